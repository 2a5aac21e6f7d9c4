#!/usr/bin/env node
import { readFileSync, writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { SystemClock } from '../model/clock.js';
import type { GatewayConfig } from '../config/schema.js';
import type { DemoOptions } from './demo.js';
import { cliLogger, defaultLogFormat, LOG_FORMATS, type LogFormat } from './log-format.js';
import { onShutdown } from './shutdown.js';
import { checkDatabasePath, checkPorts, explainStartupError, type Listener, StartupError } from './startup.js';

/** Exit codes: 0 ok, 1 runtime failure, 2 invalid configuration or usage. */
export const EXIT_CONFIG = 2;

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number 0..65535');
  return n;
}

/** The package version, from package.json beside src/ (tsx) or beside dist/ (built). */
function version(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'gridkeeper' && pkg.version) return pkg.version;
    } catch {
      // not this layout; try the next
    }
  }
  return 'unknown';
}

const logFormatOption = () =>
  new Option('--log-format <format>', 'log lines: pretty (default on a terminal) or json (default otherwise)').choices(
    LOG_FORMATS,
  );

/**
 * Run a start-up; a failure becomes one line on stderr saying what and how
 * to fix it, and a non-zero exit (everything started so far is already
 * stopped by the part that failed; exiting ends anything in this process).
 */
async function startOrExplain<T>(listeners: readonly Listener[], start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    process.stderr.write(`gridkeeper: ${explainStartupError(err, listeners)}\n`);
    process.exit(err instanceof StartupError ? err.exitCode : 1);
  }
}

/** The ports of `gridkeeper run`, with the config key that changes each. */
function runListeners(config: GatewayConfig, file: string): Listener[] {
  const out: Listener[] = [
    { port: config.api.port, host: config.api.host, what: 'HTTP API', change: `api.port in ${file}` },
    { port: config.ocpp.port, host: config.ocpp.host, what: 'OCPP server', change: `ocpp.port in ${file}` },
  ];
  if (config.mqtt.enabled && config.mqtt.broker === 'embedded') {
    out.push({
      port: config.mqtt.port,
      host: config.mqtt.host,
      what: 'embedded MQTT broker',
      change: `mqtt.port in ${file}`,
    });
  }
  return out;
}

export function buildProgram(): Command {
  const program = new Command()
    .name('gridkeeper')
    .version(version(), '-V, --version', 'print the version')
    .description('Edge gateway for EV charging depots: load management, local OCPP proxy, grid integration, one API.')
    .showHelpAfterError()
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : EXIT_CONFIG);
    });

  program
    .command('demo')
    .description(
      'Run a complete simulated depot (meter, PV, chargers, cloud CMS) and the gateway, on embedded defaults.',
    )
    .option('--config <file>', 'demo site file', 'config/demo.yaml')
    .option('--http-port <port>', 'HTTP API and dashboard port', port, 8080)
    .option('--ocpp-port <port>', 'OCPP port chargers connect to', port, 9000)
    .option('--cms-port <port>', 'port of the simulated cloud CMS', port, 9100)
    .option('--meter-port <port>', 'Modbus TCP port of the simulated grid meter (unit 1)', port, 5020)
    .option('--pv-port <port>', 'Modbus TCP port of the simulated PV inverter', port, 5021)
    .option('--battery-port <port>', 'Modbus TCP port of the simulated SunSpec battery', port, 5022)
    .option('--modbus-charger-port <port>', 'first of three ports of the simulated Modbus chargers', port, 5023)
    .option('--mqtt-port <port>', 'port of the embedded MQTT broker', port, 1883)
    .option('--opcua-port <port>', 'port of the simulated OPC UA BMS', port, 4840)
    .option(
      '--opcua',
      'add the simulated OPC UA BMS (the battery the battery policy steers; node-opcua adds seconds to start-up)',
      false,
    )
    .option('--vtn-port <port>', 'port of the simulated OpenADR VTN', port, 8081)
    .option('--oscp-port <port>', 'port of the simulated OSCP capacity provider', port, 8082)
    .option(
      '--upstream-url <url>',
      'point the proxy at an external CMS instead of the simulated one (charger id appended)',
    )
    .option(
      '--vtn-url <url>',
      'point the OpenADR VEN at an external VTN (credentials from GRIDKEEPER_VTN_CLIENT_ID/SECRET)',
    )
    .option('--chargers <n>', 'number of simulated chargers', (v) => Number.parseInt(v, 10), 4)
    .option('--data-dir <dir>', 'where the demo keeps its SQLite file', 'data')
    .option('--host <address>', "listen address of the gateway's API and OCPP server (e.g. 0.0.0.0)", '127.0.0.1')
    .option(
      '--sun-time <HH:MM|clock>',
      'solar time of the simulated sun at start (the demo shows PV at any hour); "clock" follows UTC',
      '11:00',
    )
    .addOption(logFormatOption())
    .action(async (opts: DemoOptions) => {
      // Loaded lazily: the protocol stacks take time to import, and --help should not wait for them.
      const { demoListeners, startDemo } = await import('./demo.js');
      const listeners = demoListeners(opts);
      const demo = await startOrExplain(listeners, async () => {
        checkDatabasePath(`${opts.dataDir}/demo.db`, 'choose another with --data-dir <dir>');
        // Every fixed port is checked before the first simulator starts.
        await checkPorts(listeners);
        return startDemo(opts, { env: process.env });
      });
      process.stdout.write(`${demo.describe()}\n`);
      onShutdown(() => demo.stop());
    });

  program
    .command('run')
    .description('Run the gateway for a real site.')
    .requiredOption('-c, --config <file>', 'site configuration (YAML)')
    .option('--host <address>', 'listen address of the API and OCPP server (overrides api.host and ocpp.host)')
    .addOption(logFormatOption())
    .action(async (opts: { config: string; host?: string; logFormat?: LogFormat }) => {
      const { formatErrors, loadConfigFile, adapterConfigErrors, siteConfigWarnings, unknownIdErrors } =
        await configChecks();
      const result = loadConfigFile(opts.config, process.env);
      const errors = result.ok
        ? [...unknownIdErrors(opts.config), ...adapterConfigErrors(result.config)]
        : result.errors;
      if (!result.ok || errors.length > 0) {
        process.stderr.write(`${opts.config}: invalid configuration\n${formatErrors(errors)}\n`);
        process.exit(EXIT_CONFIG);
      }
      const config: GatewayConfig = opts.host
        ? {
            ...result.config,
            api: { ...result.config.api, host: opts.host },
            ocpp: { ...result.config.ocpp, host: opts.host },
          }
        : result.config;
      const log = cliLogger({
        level: config.log.level,
        format: opts.logFormat ?? defaultLogFormat(process.stdout.isTTY),
      });
      for (const w of siteConfigWarnings(config)) log.warn(`${w.path}: ${w.message}`);
      // V8's young generation and old-generation headroom sized for the site (gc-tuning.ts: RSS per charger).
      const { applyGcTuning, gcTuningFor } = await import('./gc-tuning.js');
      const gc = applyGcTuning(gcTuningFor(config.chargers.length));
      log.info({ youngMiB: gc.youngMiB, heapGrowingPercent: gc.heapGrowingPercent, left: gc.skipped }, 'V8 GC sized');
      const listeners = runListeners(config, opts.config);
      const gateway = await startOrExplain(listeners, async () => {
        checkDatabasePath(config.store.path, `store.path in ${opts.config}`);
        await checkPorts(listeners);
        const { createGateway } = await import('./compose.js');
        const gw = createGateway(config, { clock: new SystemClock(), log, env: process.env });
        await gw.start();
        return gw;
      });
      log.info({ urls: gateway.urls() }, 'gridkeeper running');
      onShutdown(() => gateway.stop());
    });

  program
    .command('check-config')
    .description('Validate a site file and print every error with its path (exit code 2 when invalid).')
    .argument('<file>', 'site configuration (YAML)')
    .action(async (file: string) => {
      const { formatErrors, loadConfigFile, adapterConfigErrors, siteConfigWarnings, unknownIdErrors } =
        await configChecks();
      const result = loadConfigFile(file, process.env);
      // Unknown ids are looked up in the file itself, so they are named (with the intended id) even
      // while other errors keep the schema from passing.
      const ids = unknownIdErrors(file);
      const errors = result.ok
        ? [...ids, ...adapterConfigErrors(result.config)]
        : [...result.errors.filter((e) => !ids.some((i) => i.path === e.path)), ...ids];
      if (!result.ok || errors.length > 0) {
        process.stderr.write(`${file}: ${errors.length} error(s)\n${formatErrors(errors)}\n`);
        process.exit(EXIT_CONFIG);
      }
      const warnings = siteConfigWarnings(result.config);
      for (const w of warnings) process.stderr.write(`warning: ${w.path}: ${w.message}\n`);
      process.stdout.write(
        `${file}: ok (${result.config.chargers.length} chargers, site limit ${result.config.site.limitW} W${
          warnings.length ? `, ${warnings.length} warning(s)` : ''
        })\n`,
      );
    });

  program
    .command('config-docs')
    .description('Print (or write) the configuration reference generated from the schema.')
    .option('-o, --out <file>', 'write to a file instead of stdout')
    .action(async (opts: { out?: string }) => {
      const { configReferenceMarkdown } = await import('../config/docs.js');
      const md = configReferenceMarkdown();
      if (opts.out) writeFileSync(opts.out, md);
      else process.stdout.write(md);
    });

  return program;
}

/** Config loading and the checks of `run` and `check-config` (imported when one of them runs). */
async function configChecks() {
  const [load, checks, site] = await Promise.all([
    import('../config/load.js'),
    import('./checks.js'),
    import('./checks-site.js'),
  ]);
  return {
    formatErrors: load.formatErrors,
    loadConfigFile: load.loadConfigFile,
    adapterConfigErrors: checks.adapterConfigErrors,
    siteConfigWarnings: site.siteConfigWarnings,
    unknownIdErrors: site.unknownIdErrors,
  };
}

/** The commands defined above; the areas' commands (scenario, keys, opcua, backup) import much of the gateway. */
const BUILT_IN = new Set(['demo', 'run', 'check-config', 'config-docs', '-V', '--version']);

const program = buildProgram();
// `npm start` should not load the scenario harness and the key store before the demo: the areas'
// commands are registered only when the command line may ask for one of them (or for the help).
if (!BUILT_IN.has(process.argv[2] ?? '')) (await import('./commands/index.js')).registerCommands(program);
await program.parseAsync(process.argv);
