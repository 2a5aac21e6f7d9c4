import type { ConfigError } from '../config/load.js';
import type { GatewayConfig } from '../config/schema.js';

/** Addresses only this machine can reach. Anything else (0.0.0.0, ::, a LAN address, a name) is public. */
export function isLocalhost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/**
 * Secure by default: a listener beyond localhost must authenticate whoever
 * connects. The OCPP proxy needs securityProfile 1 (Basic auth, passwords
 * from the environment) or 2 (the same over TLS); the API must not serve
 * anonymous reads. An operator who protects the port otherwise (VPN, a
 * firewalled LAN, a reverse proxy) says so with `allowUnauthenticated: true`.
 */
export function securityConfigErrors(config: GatewayConfig): ConfigError[] {
  const errors: ConfigError[] = [];
  const { ocpp, api } = config;
  if (!isLocalhost(ocpp.host) && ocpp.securityProfile === 0 && !ocpp.allowUnauthenticated) {
    errors.push({
      path: 'ocpp.securityProfile',
      message: `chargers connect to ${ocpp.host}:${ocpp.port} without authentication. Set securityProfile: 1 with a password per charger from the environment (chargers[].password: "\${CP_<ID>_PASSWORD}"), or 2 with ocpp.tls; or bind ocpp.host to 127.0.0.1; or, if the network itself is protected, say so with ocpp.allowUnauthenticated: true`,
    });
  }
  if (!isLocalhost(api.host) && api.anonymousRead && !api.allowUnauthenticated) {
    errors.push({
      path: 'api.anonymousRead',
      message: `the API on ${api.host}:${api.port} answers reads without a key. Set anonymousRead: false and give clients API keys (api.keys, or \`gridkeeper keys create\`); or bind api.host to 127.0.0.1 behind a reverse proxy; or, if the network itself is protected, say so with api.allowUnauthenticated: true`,
    });
  }
  return errors;
}
