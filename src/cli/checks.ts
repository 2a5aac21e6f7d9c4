import { checkModbusConfig } from '../../adapters/modbus/index.js';
import { type ConfigError, formatPath } from '../config/load.js';
import type { GatewayConfig } from '../config/schema.js';
import { securityConfigErrors } from './checks-security.js';

/**
 * Checks that need an adapter's knowledge (e.g. that a Modbus profile named
 * in the config exists in the catalogue). The schema cannot do them because
 * `src/config` never imports adapters; the CLI runs them after validation.
 */
export function adapterConfigErrors(config: GatewayConfig): ConfigError[] {
  return [
    ...checkModbusConfig(config.modbus).map((i) => ({ path: formatPath(['modbus', ...i.path]), message: i.message })),
    ...securityConfigErrors(config),
  ];
}
