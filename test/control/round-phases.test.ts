import { afterEach, describe, expect, it } from 'vitest';
import { type ControlLoopOptions, ControlLoop } from '../../src/control/control-loop.js';
import type { Dispatcher } from '../../src/control/dispatcher.js';
import { SystemClock, VirtualClock, type Clock } from '../../src/model/clock.js';
import type { Setpoint } from '../../src/model/decision.js';
import type { SiteSnapshot } from '../../src/model/site.js';
import { silentLogger } from '../../src/util/logger.js';
import { chargingEvse } from '../helpers/evse.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A loop over `n` charging EVSEs whose steps write what they do into `log`. */
function loopOf(n: number, clock: Clock, log: string[], over: Partial<ControlLoopOptions> = {}) {
  const snapshot: SiteSnapshot = {
    ts: clock.now(),
    siteId: 't',
    grid: {},
    pv: {},
    battery: {},
    evses: Array.from({ length: n }, (_, i) => chargingEvse(`CP${i}/1`)),
    devices: [],
    stale: [],
  } as unknown as SiteSnapshot;
  const dispatcher = {
    dispatch: (sps: readonly Setpoint[]) => {
      log.push('dispatch');
      return sps;
    },
  } as unknown as Dispatcher;
  return new ControlLoop({
    clock,
    log: silentLogger(),
    snapshot: () => {
      log.push('snapshot');
      return snapshot;
    },
    policies: [],
    dispatcher,
    intervalMs: 60_000,
    coalesceMs: 10,
    allocate: (s) => {
      log.push('allocate');
      return s.evses.map((e) => ({ evseId: e.id, currentA: 6, powerW: 4140, phases: 3, reasons: [] }));
    },
    ...over,
  });
}

describe('control rounds in phases on a big site', () => {
  let loop: ControlLoop | undefined;
  afterEach(() => loop?.stop());

  it('lets other work run between the phases of a round the timers start, and dispatches once', async () => {
    const log: string[] = [];
    loop = loopOf(150, new SystemClock(), log);
    loop.start(); // the first round (manual) learns the site's size, in one piece
    expect(log).toEqual(['snapshot', 'allocate', 'dispatch']);
    log.length = 0;
    // Something the event loop runs all the time (OCPP messages, say).
    const io = setInterval(() => log.push('io'), 0);
    await sleep(5);
    log.length = 0;
    loop.notifyChange();
    await sleep(40);
    clearInterval(io);
    const round = log.slice(log.indexOf('snapshot'), log.indexOf('dispatch') + 1);
    // It ran after the round began and before the round wrote.
    expect(round.filter((x) => x === 'io').length).toBeGreaterThan(0);
    expect(round.filter((x) => x !== 'io')).toEqual(['snapshot', 'allocate', 'dispatch']);
    expect(loop.lastRound()?.setpoints).toHaveLength(150);
  });

  it('keeps a small site in one piece', async () => {
    const log: string[] = [];
    loop = loopOf(10, new SystemClock(), log);
    loop.start();
    log.length = 0;
    const io = setInterval(() => log.push('io'), 0);
    await sleep(5);
    log.length = 0;
    loop.notifyChange();
    await sleep(40);
    clearInterval(io);
    const round = log.slice(log.indexOf('snapshot'), log.indexOf('dispatch') + 1);
    expect(round).toEqual(['snapshot', 'allocate', 'dispatch']);
  });

  it('finishes a round in flight before a manual one, and on stop', async () => {
    const log: string[] = [];
    const clock = new VirtualClock();
    const l = loopOf(150, clock, log, { sliceFromEvses: 100 });
    loop = l;
    l.start();
    log.length = 0;
    // On a virtual clock the phases run at the same instant, inside advance().
    l.notifyChange();
    clock.advance(10);
    expect(log).toEqual(['snapshot', 'allocate', 'dispatch']);
    expect(l.rounds).toBe(2);
    // A round in flight (its first phase done) and a manual round asked for: the first is finished first.
    log.length = 0;
    l.notifyChange();
    clock.runUntil(clock.now() + 10 - 1);
    (l as unknown as { scheduledRound(t: string): void }).scheduledRound('change');
    expect(log).toEqual(['snapshot']);
    l.runRound('manual');
    expect(log).toEqual(['snapshot', 'allocate', 'dispatch', 'snapshot', 'allocate', 'dispatch']);
    log.length = 0;
    (l as unknown as { scheduledRound(t: string): void }).scheduledRound('change');
    l.stop();
    expect(log).toEqual(['snapshot', 'allocate', 'dispatch']);
    expect(clock.pending()).toBe(0);
  });
});
