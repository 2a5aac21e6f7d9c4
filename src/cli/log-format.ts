import type { Writable } from 'node:stream';
import { createLogger, type Logger } from '../util/logger.js';

export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** `pretty` on a terminal, `json` for pipes, files and services (journald, Docker). */
export function defaultLogFormat(isTty: boolean | undefined): LogFormat {
  return isTty ? 'pretty' : 'json';
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const COLOURS: Record<number, string> = { 10: '90', 20: '90', 30: '32', 40: '33', 50: '31', 60: '35' };

/**
 * One human-readable line from one pino JSON line:
 * `22:14:03 INFO  ocpp  charger connected  chargerId=CP001`.
 * Our own few lines instead of pino-pretty, which is a development
 * dependency and runs in a worker thread that costs start-up time.
 */
export function formatLogLine(json: string, colour: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { level, time, msg, component, ...rest } = rec;
  const n = typeof level === 'number' ? level : 30;
  const t = typeof time === 'number' ? new Date(time).toISOString().slice(11, 19) : '--:--:--';
  const name = (LEVELS[n] ?? String(n)).padEnd(5);
  const lvl = colour ? `\u001b[${COLOURS[n] ?? '0'}m${name}\u001b[0m` : name;
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
    .join(' ');
  const comp = typeof component === 'string' ? `${component}  ` : '';
  return `${t} ${lvl} ${comp}${String(msg ?? '')}${fields ? `  ${fields}` : ''}`;
}

/** A pino destination that writes readable lines to `out`. */
export function prettyDestination(out: Writable & { isTTY?: boolean }): { write(chunk: string): void } {
  const colour = out.isTTY === true && !process.env.NO_COLOR;
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line) out.write(`${formatLogLine(line, colour)}\n`);
    },
  };
}

/** The CLI's logger: readable lines or JSON on stdout. */
export function cliLogger(opts: { level: string; format: LogFormat }): Logger {
  return opts.format === 'pretty'
    ? createLogger({ level: opts.level, destination: prettyDestination(process.stdout) })
    : createLogger({ level: opts.level });
}
