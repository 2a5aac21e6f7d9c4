import { createRequire } from 'node:module';
import { pino } from 'pino';

export type Logger = pino.Logger;

/**
 * Keys whose values never reach a log line, wherever they sit in an object.
 * Secrets come from the environment and stay out of logs.
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'secret',
  '*.secret',
  '*.*.secret',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'apiKey',
  '*.apiKey',
  'clientSecret',
  '*.clientSecret',
];

export interface LoggerOptions {
  readonly level?: string;
  /** Human-readable output (pino-pretty) when it is installed; JSON otherwise. */
  readonly pretty?: boolean;
  /** Destination stream; stdout when omitted. */
  readonly destination?: pino.DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const options: pino.LoggerOptions = {
    level: opts.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: undefined,
  };
  // A person at a terminal gets readable lines; services and pipes keep JSON.
  if (opts.pretty && !opts.destination && prettyAvailable()) {
    return pino({
      ...options,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, singleLine: true, translateTime: 'HH:MM:ss', ignore: 'pid,hostname' },
      },
    });
  }
  return pino(options, opts.destination);
}

/** pino-pretty is a development dependency: absent from a production install. */
function prettyAvailable(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
