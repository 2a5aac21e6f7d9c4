import { Command, Option } from 'commander';
import type { BrowseEntry } from '../../../adapters/opcua/browse.js';
import { OPCUA_SECURITY_MODES, OPCUA_SECURITY_POLICIES } from '../../config/sections/opcua.js';
import { type CommandIo, processIo } from './io.js';

export type OpcuaCommandIo = CommandIo;

interface BrowseCliOptions {
  securityMode: (typeof OPCUA_SECURITY_MODES)[number];
  securityPolicy: (typeof OPCUA_SECURITY_POLICIES)[number];
  user?: string;
  passwordEnv: string;
  json?: boolean;
}

function formatValue(v: unknown): string {
  if (v === undefined) return '';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

export function formatBrowseTable(entries: readonly BrowseEntry[]): string {
  const rows = [
    ['NodeId', 'Class', 'BrowseName', 'DataType', 'Value'],
    ...entries.map((e) => [e.nodeId, e.nodeClass, e.browseName, e.dataType ?? '', formatValue(e.value)]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return `${rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

/** `gridkeeper opcua browse <endpoint> [nodeId]`: find the NodeIds for a site config. */
export function registerOpcuaCommand(program: Command, io: OpcuaCommandIo = processIo): Command {
  const opcua = new Command('opcua').description('OPC UA tools for installers.');
  opcua
    .command('browse')
    .description('List the children of a node (Objects folder by default) with data types and values.')
    .argument('<endpoint>', 'server endpoint, e.g. opc.tcp://10.0.0.20:4840')
    .argument('[nodeId]', 'node to browse, e.g. ns=1;s=BMS', 'ObjectsFolder')
    .addOption(
      new Option('--security-mode <mode>', 'message security mode').choices(OPCUA_SECURITY_MODES).default('None'),
    )
    .addOption(
      new Option('--security-policy <policy>', 'security policy').choices(OPCUA_SECURITY_POLICIES).default('None'),
    )
    .option('--user <name>', 'user name (anonymous when omitted)')
    .option('--password-env <var>', 'environment variable holding the password', 'OPCUA_PASSWORD')
    .option('--json', 'print JSON instead of a table')
    .action(async (endpoint: string, nodeId: string, opts: BrowseCliOptions) => {
      try {
        // node-opcua takes seconds to import: load it only when browsing.
        const { browse } = await import('../../../adapters/opcua/browse.js');
        const entries = await browse(endpoint, nodeId, {
          securityMode: opts.securityMode,
          securityPolicy: opts.securityPolicy,
          username: opts.user,
          password: opts.user !== undefined ? io.env[opts.passwordEnv] : undefined,
        });
        io.out(opts.json ? `${JSON.stringify(entries, null, 2)}\n` : formatBrowseTable(entries));
      } catch (err) {
        io.err(`opcua browse ${endpoint} ${nodeId}: ${(err as Error).message}\n`);
        io.fail(1);
      }
    });
  program.addCommand(opcua);
  return opcua;
}
