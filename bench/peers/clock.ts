/**
 * Milliseconds on CLOCK_MONOTONIC (process.hrtime), which is system-wide on
 * Linux: a load step stamped in the meter's process and a profile stamped in
 * the chargers' process are on the same clock. (performance.now() is not: it
 * counts from each process's own start.)
 */
export function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
