import type { Clock, TimerHandle } from '../../src/model/clock.js';
import { createOscpCpSim, type OscpCpSim } from './oscp-cp.js';
import { createVtnSim, type VtnSim } from './vtn.js';

/**
 * The utility side of `gridkeeper demo`: a VTN simulator with a demo
 * program and a repeating script of DR events, and an OSCP capacity
 * provider that keeps a capacity forecast and heartbeats going. Both have a
 * switchable outage.
 */
export interface UtilityDemoOptions {
  readonly clock: Clock;
  /** The demo site's contract import limit, W (the script's limits are shares of it). */
  readonly siteLimitW: number;
  readonly vtnPort?: number;
  readonly cpPort?: number;
  readonly host?: string;
  /** Length of one script cycle, ms (default 15 min). */
  readonly cycleMs?: number;
  /** Start the first import limit this long after start, ms (default 60 s). */
  readonly firstEventAfterMs?: number;
}

export interface UtilityDemo {
  readonly vtn: VtnSim;
  readonly cp: OscpCpSim;
  readonly programName: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The `grid.openadr` and `grid.oscp` config the demo's gateway should use (after start). */
  gridConfig(): {
    openadr: {
      enabled: true;
      vtnUrl: string;
      clientId: string;
      clientSecret: string;
      programNames: string[];
      venName: string;
    };
    oscp: { enabled: true; capacityProviderUrl: string; cpToken: string; groupId: string };
  };
  /** Make the VTN answer 503 (true) or work again (false). */
  setVtnOutage(on: boolean): void;
  setCpOutage(on: boolean): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const PROGRAM = 'gridkeeper-demo';

export function createUtilityDemo(opts: UtilityDemoOptions): UtilityDemo {
  const { clock } = opts;
  const host = opts.host ?? '127.0.0.1';
  const vtn = createVtnSim({
    clock,
    host,
    ...(opts.vtnPort !== undefined ? { port: opts.vtnPort } : {}),
    programs: [{ programName: PROGRAM, programLongName: 'gridkeeper demo DR program', retailerName: 'Demo Utility' }],
  });
  const cp = createOscpCpSim({
    clock,
    host,
    ...(opts.cpPort !== undefined ? { port: opts.cpPort } : {}),
    cpToken: 'demo-cp-token',
    grantUpToKw: Math.round((opts.siteLimitW * 1.1) / 1000),
  });
  const cycleMs = opts.cycleMs ?? 15 * 60_000;
  const timers: TimerHandle[] = [];
  const programID = () => [...vtn.programs.values()][0]?.id ?? '';
  const iso = (t: number) => new Date(t).toISOString();
  const kw = (w: number) => Math.round(w / 100) / 10;

  const event = (
    eventName: string,
    type: string,
    start: number,
    durationS: number,
    values: number[],
    units: string,
  ) => ({
    programID: programID(),
    eventName,
    payloadDescriptors: [{ payloadType: type, units, ...(type === 'PRICE' ? { currency: 'EUR' } : {}) }],
    intervalPeriod: { start: iso(start), duration: `PT${Math.round(durationS)}S` },
    intervals: values.map((v, i) => ({ id: i, payloads: [{ type, values: [v] }] })),
  });

  /**
   * One script cycle: an import limit well below what a busy depot draws (60 % of its contract, so the
   * §14a floor of 4.2 kW per charger still fits), then a dispatch set-point of a quarter of the contract
   * that the battery (and V2G vehicles) must make up for.
   */
  const scheduleCycle = (at: number, n: number) => {
    const limitKw = kw(opts.siteLimitW * 0.6);
    vtn.createEvent(event(`import-limit-${n}`, 'IMPORT_CAPACITY_LIMIT', at, cycleMs / 3000, [limitKw], 'KW'));
    vtn.createEvent(
      event(`dispatch-${n}`, 'DISPATCH_SETPOINT', at + cycleMs / 2, cycleMs / 5000, [kw(opts.siteLimitW * 0.25)], 'KW'),
    );
  };

  const schedulePrices = (from: number) => {
    const hour = Math.floor(from / 3_600_000) * 3_600_000;
    const prices = Array.from({ length: 24 }, (_, i) => {
      const h = new Date(hour + i * 3_600_000).getUTCHours();
      return h >= 16 && h < 20 ? 0.42 : h >= 0 && h < 6 ? 0.14 : 0.26;
    });
    vtn.createEvent(event('day-ahead-prices', 'PRICE', hour, 3600, prices, 'KWH'));
  };

  const forecast = () => {
    if (!cp.fp()) return;
    const now = clock.now();
    const start = Math.floor(now / 900_000) * 900_000;
    const blocks = Array.from({ length: 8 }, (_, i) => ({
      capacity: kw(opts.siteLimitW),
      phase: 'ALL',
      unit: 'KW',
      start_time: iso(start + i * 900_000),
      end_time: iso(start + (i + 1) * 900_000),
    }));
    void cp.sendHeartbeat(120_000).catch(() => {});
    void cp.sendForecast('site', 'CONSUMPTION', blocks).catch(() => {});
    void cp
      .sendForecast('site', 'FALLBACK_CONSUMPTION', [
        { ...blocks[0], end_time: iso(start + 8 * 900_000), capacity: kw(opts.siteLimitW * 0.5) },
      ])
      .catch(() => {});
  };

  return {
    vtn,
    cp,
    programName: PROGRAM,
    clientId: 'ven-client',
    clientSecret: 'ven-secret',
    gridConfig: () => ({
      openadr: {
        enabled: true,
        vtnUrl: vtn.url,
        clientId: 'ven-client',
        clientSecret: 'ven-secret',
        programNames: [PROGRAM],
        venName: 'gridkeeper-demo-depot',
      },
      oscp: { enabled: true, capacityProviderUrl: cp.url, cpToken: cp.cpToken, groupId: 'site' },
    }),
    setVtnOutage: (on) => vtn.setOutage(on ? 503 : null),
    setCpOutage: (on) => cp.setOutage(on ? 503 : null),
    async start() {
      await vtn.start();
      await cp.start();
      const now = clock.now();
      schedulePrices(now);
      let n = 0;
      // A minute after start: the gateway applies a limit it knows of 30 s before it starts, and the demo
      // shows its chargers charging freely first.
      scheduleCycle(now + (opts.firstEventAfterMs ?? 60_000), n++);
      timers.push(
        clock.setInterval(() => scheduleCycle(clock.now() + 30_000, n++), cycleMs),
        clock.setInterval(() => schedulePrices(clock.now()), 12 * 3_600_000),
        clock.setInterval(forecast, 30_000),
      );
    },
    async stop() {
      for (const t of timers.splice(0)) clock.clearInterval(t);
      await cp.stop();
      await vtn.stop();
    },
  };
}
