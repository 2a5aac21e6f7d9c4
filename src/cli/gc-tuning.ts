import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';

/**
 * How `gridkeeper run` sets V8's garbage collector for a gateway: a small
 * live heap (tens of MB) with a steady stream of short-lived objects per
 * OCPP frame. With Node's defaults V8 sizes both generations for throughput
 * on a big machine: the young generation grows to 32 MiB (two 16 MiB
 * semi-spaces) and the old generation may grow to about four times its live
 * size before a major GC. At 1000 chargers that headroom was most of the
 * process: 288 MiB peak RSS for a live heap of 86 MiB (bench `ocpp`,
 * bench/proxy-memory.ts). Neither setting caps the heap (`--max-old-space-size`
 * stays V8's default), so a larger site than planned costs GC time, never an
 * out-of-memory crash.
 *
 * Both are V8 flags read at GC time, so the gateway sets them itself, in
 * every deployment (systemd, container, npm scripts), without re-executing
 * node.
 */
export interface GcTuning {
  /** Largest young generation (both semi-spaces), MiB; 0: V8's default. */
  readonly youngMiB: number;
  /** The old generation may grow to (1 + this/100) × its live size before the next major GC; 0: V8's default. */
  readonly heapGrowingPercent: number;
}

/** A semi-space doubles from 1 MiB; the caps are those steps. */
const SEMI_SPACE_STEPS_MIB = [1, 2, 4, 8, 16] as const;

/**
 * Sized from the number of chargers: the allocation rate grows with them, and
 * a young generation too small for it promotes short-lived objects (more
 * major GCs). 1 MiB semi-space per 250 chargers, at least 2, at most V8's
 * default of 16; 25 % old-generation headroom.
 */
export function gcTuningFor(chargers: number): GcTuning {
  const wanted = Math.max(2, Math.ceil(chargers / 250));
  const semi = SEMI_SPACE_STEPS_MIB.find((s) => s >= wanted) ?? 16;
  return { youngMiB: 2 * semi, heapGrowingPercent: 25 };
}

/** V8 flags the operator set (node command line or NODE_OPTIONS) win over the gateway's own. */
function operatorSet(flag: string, execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  const spelled = [flag, flag.replaceAll('-', '_').replace(/^__/, '--')];
  return [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((a) => spelled.some((s) => a.startsWith(s)));
}

export interface AppliedGcTuning extends GcTuning {
  /** Settings left to the operator's own flags, or all when GRIDKEEPER_GC_TUNING=off. */
  readonly skipped: readonly string[];
  stop(): void;
}

/** A whole number from the environment, or `fallback`; anything else is a clear error. */
function envNumber(env: Readonly<Record<string, string | undefined>>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number >= 0, got "${raw}"`);
  return n;
}

/**
 * Apply `tuning` to this process. GRIDKEEPER_GC_TUNING=off leaves V8's
 * defaults (for comparison, or when node's own flags are set some other way);
 * GRIDKEEPER_GC_YOUNG_MIB and GRIDKEEPER_GC_HEAP_GROWING_PERCENT replace
 * the sized values (0: V8's default for that one).
 */
export function applyGcTuning(
  tuning: GcTuning,
  env: Readonly<Record<string, string | undefined>> = process.env,
  execArgv: readonly string[] = process.execArgv,
): AppliedGcTuning {
  const skipped: string[] = [];
  let observer: PerformanceObserver | undefined;
  if (env.GRIDKEEPER_GC_TUNING === 'off') {
    return { youngMiB: 0, heapGrowingPercent: 0, skipped: ['all (GRIDKEEPER_GC_TUNING=off)'], stop: () => {} };
  }
  let growing = envNumber(env, 'GRIDKEEPER_GC_HEAP_GROWING_PERCENT', tuning.heapGrowingPercent);
  if (growing > 0 && operatorSet('--heap-growing-percent', execArgv, env.NODE_OPTIONS)) {
    skipped.push('--heap-growing-percent');
    growing = 0;
  }
  if (growing > 0) v8.setFlagsFromString(`--heap-growing-percent=${growing}`);
  let young = envNumber(env, 'GRIDKEEPER_GC_YOUNG_MIB', tuning.youngMiB);
  if (young > 0 && operatorSet('--max-semi-space-size', execArgv, env.NODE_OPTIONS)) {
    skipped.push('--max-semi-space-size');
    young = 0;
  }
  if (young > 0) observer = capYoungGeneration(young);
  return { youngMiB: young, heapGrowingPercent: growing, skipped, stop: () => observer?.disconnect() };
}

/**
 * `--max-semi-space-size` is read only when the heap is set up, but the
 * factor by which a full young generation grows is read at each GC: it is 1
 * (no growth) once the young generation has reached the cap, and V8's 2 while
 * it is below (it shrinks when the gateway is idle and grows back under load).
 */
function capYoungGeneration(capMiB: number): PerformanceObserver {
  const capBytes = capMiB * 2 ** 20;
  let frozen: boolean | undefined;
  const check = (): void => {
    const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    const atCap = space !== undefined && space.space_size >= capBytes;
    if (atCap === frozen) return;
    frozen = atCap;
    v8.setFlagsFromString(`--semi-space-growth-factor=${atCap ? 1 : 2}`);
  };
  check();
  const observer = new PerformanceObserver(check);
  observer.observe({ entryTypes: ['gc'] });
  return observer;
}
