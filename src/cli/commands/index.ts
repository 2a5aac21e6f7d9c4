import type { Command } from 'commander';
import { registerBackupCommand } from './backup.js';
import { registerKeysCommand } from './keys.js';
import { registerOpcuaCommand } from './opcua.js';
import { registerScenarioCommand } from './scenario.js';

/**
 * Sub-commands contributed by areas (scenario runner, OPC UA browse, API
 * keys). Each lives in `commands/<name>.ts` and registers itself here.
 */
export function registerCommands(program: Command): void {
  registerOpcuaCommand(program);
  registerKeysCommand(program);
  registerScenarioCommand(program);
  registerBackupCommand(program);
}
