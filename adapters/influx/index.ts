import { type IPoint, InfluxDB } from 'influx';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { InfluxConfig } from '../../src/ports/config.js';
import type { Adapter } from '../../src/model/adapter.js';
import type { Clock, TimerHandle } from '../../src/model/clock.js';
import type { SiteSnapshot } from '../../src/model/site.js';
import type { Db } from '../../src/ports/store.js';
import type { Logger } from '../../src/util/logger.js';
import { sharedMetric } from '../../src/util/metrics.js';

/** A point as buffered: timestamp in epoch ms. */
export interface InfluxPoint {
  readonly measurement: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly fields: Readonly<Record<string, number | boolean | string>>;
  readonly ts: number;
}

export interface InfluxAdapterDeps {
  readonly clock: Clock;
  readonly log: Logger;
  /** The gateway database (opened with INTEGRATION_MIGRATIONS): the outage buffer lives there. */
  readonly db: Db;
  readonly metrics: Registry;
  readonly siteId: string;
  /** Source of the sampled site state (`() => core.state.snapshot()`); omit to only export `write()` points. */
  readonly snapshot?: () => SiteSnapshot;
  /** Set-point the loop wants for an EVSE, W (`dispatcher.current(id)?.powerW`). */
  readonly setpointW?: (evseId: string) => number | undefined;
}

export interface InfluxAdapter extends Adapter {
  /** Queue points for export (buffered on disk until InfluxDB has them). */
  write(points: readonly InfluxPoint[]): void;
  /** Take one sample of the site now. */
  sample(): void;
  /** Send what is buffered; resolves when the buffer is empty or a write failed. */
  flush(): Promise<{ sent: number; ok: boolean }>;
  /** Points waiting on disk. */
  buffered(): number;
}

const MAX_BACKOFF_MS = 30_000;

/** Site snapshot to points: one measurement per quantity, EVSEs tagged. */
export function snapshotPoints(
  s: SiteSnapshot,
  siteId: string,
  setpointW?: (evseId: string) => number | undefined,
): InfluxPoint[] {
  const tags = { site: siteId };
  const out: InfluxPoint[] = [];
  const ts = s.ts;
  if (s.grid.powerW) out.push({ measurement: 'grid', tags, fields: { power_w: s.grid.powerW.value }, ts });
  if (s.pv.powerW) out.push({ measurement: 'pv', tags, fields: { power_w: s.pv.powerW.value }, ts });
  const bat: Record<string, number> = {};
  if (s.battery.powerW) bat.power_w = s.battery.powerW.value;
  if (s.battery.socPct) bat.soc_pct = s.battery.socPct.value;
  if (Object.keys(bat).length > 0) out.push({ measurement: 'battery', tags, fields: bat, ts });
  for (const e of s.evses) {
    const fields: Record<string, number | string> = { status: e.status };
    if (e.powerW) fields.power_w = e.powerW.value;
    const sp = setpointW?.(e.id);
    if (sp !== undefined) fields.setpoint_w = sp;
    if (e.sessionEnergyWh !== undefined) fields.session_energy_wh = e.sessionEnergyWh;
    out.push({ measurement: 'evse', tags: { ...tags, evse: e.id, charger: e.chargerId }, fields, ts });
  }
  return out;
}

/**
 * InfluxDB 1.x export. Every point goes to a SQLite buffer first and is
 * deleted only after InfluxDB acknowledged it, so an outage of the database
 * (or a restart of the gateway during one) loses nothing; it is sent in
 * batches afterwards, oldest first. Beyond `maxBufferedPoints` the oldest
 * points are dropped and counted.
 */
export function createInfluxAdapter(config: InfluxConfig, deps: InfluxAdapterDeps): InfluxAdapter {
  const { clock, log, db, metrics } = deps;
  const { host, port, protocol, database, username, password } = config;
  const influx = new InfluxDB({
    host,
    port,
    protocol,
    database,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
  });
  const insert = db.prepare('INSERT INTO influx_buffer (points_json, n) VALUES (?, ?)');
  const total = db.prepare('SELECT COALESCE(SUM(n), 0) AS n FROM influx_buffer');
  const oldest = db.prepare('SELECT seq, points_json, n FROM influx_buffer ORDER BY seq LIMIT ?');
  const del = db.prepare('DELETE FROM influx_buffer WHERE seq <= ?');

  const written = sharedMetric(
    metrics,
    'gridkeeper_influx_points_written_total',
    () =>
      new Counter({
        name: 'gridkeeper_influx_points_written_total',
        help: 'Points acknowledged by InfluxDB',
        registers: [metrics],
      }),
  );
  const dropped = sharedMetric(
    metrics,
    'gridkeeper_influx_points_dropped_total',
    () =>
      new Counter({
        name: 'gridkeeper_influx_points_dropped_total',
        help: 'Points dropped because the outage buffer was full',
        registers: [metrics],
      }),
  );
  const errors = sharedMetric(
    metrics,
    'gridkeeper_influx_write_errors_total',
    () =>
      new Counter({
        name: 'gridkeeper_influx_write_errors_total',
        help: 'Failed InfluxDB writes',
        registers: [metrics],
      }),
  );
  let bufferedCount = (total.get() as { n: number }).n;
  sharedMetric(
    metrics,
    'gridkeeper_influx_buffered_points',
    () =>
      new Gauge({
        name: 'gridkeeper_influx_buffered_points',
        help: 'Points buffered on disk waiting for InfluxDB',
        registers: [metrics],
        collect() {
          this.set(bufferedCount);
        },
      }),
  );

  let sampleTimer: TimerHandle | undefined;
  let flushTimer: TimerHandle | undefined;
  let flushing: Promise<{ sent: number; ok: boolean }> | undefined;
  let healthy = true;
  let backoffMs = 0;
  let retryAt = 0;
  let dbReady = !config.createDatabase;
  let running = false;

  const trim = () => {
    if (bufferedCount <= config.maxBufferedPoints) return;
    const rows = oldest.all(1000) as Array<{ seq: number; n: number }>;
    let drop = 0;
    let upTo = 0;
    for (const r of rows) {
      if (bufferedCount - drop <= config.maxBufferedPoints) break;
      drop += r.n;
      upTo = r.seq;
    }
    if (upTo > 0) {
      del.run(upTo);
      bufferedCount -= drop;
      dropped.inc(drop);
      log.warn({ dropped: drop }, 'influx outage buffer full; oldest points dropped');
    }
  };

  const write = (points: readonly InfluxPoint[]) => {
    if (points.length === 0) return;
    insert.run(JSON.stringify(points), points.length);
    bufferedCount += points.length;
    trim();
  };

  const sendOnce = async (): Promise<{ sent: number; ok: boolean }> => {
    let sent = 0;
    try {
      if (!dbReady) {
        const names = await influx.getDatabaseNames();
        if (!names.includes(config.database)) await influx.createDatabase(config.database);
        dbReady = true;
      }
      for (;;) {
        // Rows hold one sample each; gather rows up to about one batch.
        const rows = oldest.all(Math.max(1, Math.ceil(config.batchSize / 8))) as Array<{
          seq: number;
          points_json: string;
          n: number;
        }>;
        if (rows.length === 0) break;
        const points: IPoint[] = [];
        let last = 0;
        for (const r of rows) {
          for (const p of JSON.parse(r.points_json) as InfluxPoint[]) {
            points.push({
              measurement: p.measurement,
              ...(p.tags ? { tags: { ...p.tags } } : {}),
              fields: { ...p.fields },
              timestamp: p.ts,
            });
          }
          last = r.seq;
          if (points.length >= config.batchSize) break;
        }
        await influx.writePoints(points, { precision: 'ms' });
        del.run(last);
        bufferedCount = Math.max(0, bufferedCount - points.length);
        written.inc(points.length);
        sent += points.length;
      }
      if (!healthy) log.info({ sent }, 'InfluxDB reachable again; buffered points sent');
      healthy = true;
      backoffMs = 0;
      return { sent, ok: true };
    } catch (err) {
      errors.inc();
      if (healthy) {
        log.warn(
          { err: err instanceof Error ? err.message : String(err), buffered: bufferedCount },
          'InfluxDB write failed; buffering on disk',
        );
      }
      healthy = false;
      backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(config.flushIntervalMs, backoffMs * 2));
      retryAt = clock.now() + backoffMs;
      return { sent, ok: false };
    }
  };

  const flush = () => {
    flushing ??= sendOnce().finally(() => {
      flushing = undefined;
    });
    return flushing;
  };

  const sample = () => {
    if (deps.snapshot) write(snapshotPoints(deps.snapshot(), deps.siteId, deps.setpointW));
  };

  return {
    id: 'influx',
    write,
    sample,
    flush,
    buffered: () => bufferedCount,
    async start() {
      running = true;
      if (deps.snapshot) sampleTimer = clock.setInterval(sample, config.intervalMs);
      flushTimer = clock.setInterval(() => {
        if (!running || clock.now() < retryAt || bufferedCount === 0) return;
        void flush();
      }, config.flushIntervalMs);
    },
    async stop() {
      running = false;
      clock.clearInterval(sampleTimer);
      clock.clearInterval(flushTimer);
      await flushing;
    },
  };
}
