#!/usr/bin/env node
import { writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { configReferenceMarkdown } from '../config/docs.js';
import { formatErrors, loadConfigFile } from '../config/load.js';
import { SystemClock } from '../model/clock.js';
import { createLogger } from '../util/logger.js';
import { adapterConfigErrors } from './checks.js';
import { registerCommands } from './commands/index.js';
import type { DemoOptions } from './demo.js';
import { onShutdown } from './shutdown.js';

/** Exit codes: 0 ok, 1 runtime failure, 2 invalid configuration or usage. */
export const EXIT_CONFIG = 2;

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number 0..65535');
  return n;
}

export function buildProgram(): Command {
  const program = new Command()
    .name('gridkeeper')
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
    .option('--no-opcua', 'leave out the simulated OPC UA BMS')
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
    .action(async (opts: DemoOptions) => {
      // Loaded lazily: the protocol stacks (node-opcua above all) take seconds to import.
      const { startDemo } = await import('./demo.js');
      const demo = await startDemo(opts, { env: process.env });
      process.stdout.write(`${demo.describe()}\n`);
      onShutdown(() => demo.stop());
    });

  program
    .command('run')
    .description('Run the gateway for a real site.')
    .requiredOption('-c, --config <file>', 'site configuration (YAML)')
    .action(async (opts: { config: string }) => {
      const result = loadConfigFile(opts.config, process.env);
      const errors = result.ok ? adapterConfigErrors(result.config) : result.errors;
      if (!result.ok || errors.length > 0) {
        process.stderr.write(`${opts.config}: invalid configuration\n${formatErrors(errors)}\n`);
        process.exit(EXIT_CONFIG);
      }
      const log = createLogger({ level: result.config.log.level });
      const { createGateway } = await import('./compose.js');
      const gateway = createGateway(result.config, { clock: new SystemClock(), log, env: process.env });
      await gateway.start();
      log.info({ urls: gateway.urls() }, 'gridkeeper running');
      onShutdown(() => gateway.stop());
    });

  program
    .command('check-config')
    .description('Validate a site file and print every error with its path (exit code 2 when invalid).')
    .argument('<file>', 'site configuration (YAML)')
    .action((file: string) => {
      const result = loadConfigFile(file, process.env);
      const errors = result.ok ? adapterConfigErrors(result.config) : result.errors;
      if (!result.ok || errors.length > 0) {
        process.stderr.write(`${file}: ${errors.length} error(s)\n${formatErrors(errors)}\n`);
        process.exit(EXIT_CONFIG);
      }
      process.stdout.write(
        `${file}: ok (${result.config.chargers.length} chargers, site limit ${result.config.site.limitW} W)\n`,
      );
    });

  program
    .command('config-docs')
    .description('Print (or write) the configuration reference generated from the schema.')
    .option('-o, --out <file>', 'write to a file instead of stdout')
    .action((opts: { out?: string }) => {
      const md = configReferenceMarkdown();
      if (opts.out) writeFileSync(opts.out, md);
      else process.stdout.write(md);
    });

  registerCommands(program);
  return program;
}

await buildProgram().parseAsync(process.argv);
