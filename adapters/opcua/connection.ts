import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ConnectionStrategyOptions,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  type UserIdentityInfo,
  UserTokenType,
} from 'node-opcua';
import type { OpcuaDeviceConfig } from '../../src/ports/config.js';

export interface OpcuaConnectionOptions {
  readonly securityMode?: OpcuaDeviceConfig['securityMode'];
  readonly securityPolicy?: OpcuaDeviceConfig['securityPolicy'];
  readonly username?: string;
  readonly password?: string;
  readonly pkiDir?: string;
}

/**
 * The client's own certificate lives outside the repository, in one shared
 * temp directory unless configured, so it is generated once per machine and
 * not on every start (node-opcua needs one even for security mode None).
 */
export function defaultPkiDir(): string {
  return join(tmpdir(), 'gridkeeper-opcua-client-pki');
}

export function createClient(opts: OpcuaConnectionOptions, connectionStrategy: ConnectionStrategyOptions): OPCUAClient {
  return OPCUAClient.create({
    applicationName: 'gridkeeper',
    endpointMustExist: false,
    securityMode: MessageSecurityMode[opts.securityMode ?? 'None'],
    securityPolicy: SecurityPolicy[opts.securityPolicy ?? 'None'],
    connectionStrategy,
    keepSessionAlive: true,
    requestedSessionTimeout: 60_000,
    clientCertificateManager: new OPCUACertificateManager({
      rootFolder: opts.pkiDir ?? defaultPkiDir(),
      // Trust on first use of the server certificate; pin it by moving it to trusted/ and turning this off.
      automaticallyAcceptUnknownCertificate: true,
    }),
  });
}

export function userIdentity(opts: OpcuaConnectionOptions): UserIdentityInfo {
  if (opts.username === undefined) return { type: UserTokenType.Anonymous };
  return { type: UserTokenType.UserName, userName: opts.username, password: opts.password ?? '' };
}
