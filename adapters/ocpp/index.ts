export { OCPP_MIGRATIONS } from './migrations.js';
export { OcppOutbox, type OutboxRow } from './outbox.js';
export { createOcppProxy, type OcppProxy, type OcppProxyConfig, type OcppProxyDeps } from './proxy.js';
export { OCPP_PROTOCOLS, type OcppProtocol } from './rpc/protocol.js';
