import type { Command } from 'commander';

/**
 * Sub-commands contributed by areas (scenario runner, OPC UA browse, API
 * keys). Each lives in `commands/<name>.ts` and registers itself here.
 */
export function registerCommands(_program: Command): void {}
