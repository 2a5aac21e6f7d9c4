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
  /** Destination stream; stdout when omitted. */
  readonly destination?: pino.DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: undefined,
    },
    opts.destination,
  );
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
