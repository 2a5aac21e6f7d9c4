export { OCPP_MIGRATIONS } from './migrations.js';
export { OcppOutbox, type OutboxRow } from './outbox.js';
export {
  createOcppProxy,
  type OcppProxy,
  type OcppProxyConfig,
  type OcppProxyDeps,
  type OutboxChargerStatus,
} from './proxy.js';
export { OCPP_PROTOCOLS, type OcppProtocol } from './rpc/protocol.js';
export type { AuthoriseHook, AuthoriseRequest, AuthoriserAnswer } from './auth.js';
export type { CommandResult, OcppCommands } from './commands.js';
export type { LinkStats } from './context.js';
