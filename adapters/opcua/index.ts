import {
  AttributeIds,
  type ClientSession,
  type ClientSubscription,
  type DataValue,
  DataType,
  type OPCUAClient,
  StatusCodes,
  TimestampsToReturn,
  resolveNodeId,
  setErrorLogger,
  setWarningLogger,
} from 'node-opcua';
import { format } from 'node:util';
import type { GatewayBusPort } from '../../src/ports/bus.js';
import type { OpcuaConfig, OpcuaDeviceConfig, OpcuaNodeRef } from '../../src/ports/config.js';
import type { Adapter, SetpointSink } from '../../src/model/adapter.js';
import type { Clock, TimerHandle } from '../../src/model/clock.js';
import type { Setpoint } from '../../src/model/decision.js';
import { type Quality, reading } from '../../src/model/reading.js';
import type { BatteryState } from '../../src/model/site.js';
import type { Logger } from '../../src/util/logger.js';
import { createClient, userIdentity } from './connection.js';

export { type BrowseEntry, type BrowseOptions, browse } from './browse.js';

export interface OpcuaAdapterDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly bus: GatewayBusPort;
}

/** One OPC UA device (a BMS): readings on the bus, battery power set-points written back. */
export interface OpcuaAdapter extends Adapter, SetpointSink {
  readonly connected: boolean;
  /** The server endpoint. */
  url(): string;
  /** Write the battery power set-point (W, + charge) to the configured node; resolves once read back. */
  writeSetpoint(powerW: number): Promise<void>;
  /** Write any node (numeric or boolean), in the node's own data type. */
  write(nodeId: string, value: number | boolean): Promise<void>;
}

type Quantity = keyof OpcuaDeviceConfig['nodes'];

/** Integer types a JS number holds exactly (64-bit ones arrive as [high, low]). */
const INTEGER_TYPES = new Set<DataType>([
  DataType.SByte,
  DataType.Byte,
  DataType.Int16,
  DataType.UInt16,
  DataType.Int32,
  DataType.UInt32,
]);
const NUMERIC_TYPES = new Set<DataType>([
  ...INTEGER_TYPES,
  DataType.Int64,
  DataType.UInt64,
  DataType.Float,
  DataType.Double,
]);

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'boolean') return v ? 1 : 0;
  // Int64/UInt64 arrive as [high, low].
  if (Array.isArray(v) && v.length === 2) {
    const [hi, lo] = v as unknown[];
    if (typeof hi === 'number' && typeof lo === 'number') return hi * 2 ** 32 + lo;
  }
  return undefined;
}

/**
 * node-opcua writes its warnings (reconnect attempts, Node version notes) to
 * the console through process-wide hooks; the composition root calls this
 * once so they land in the gateway log instead, at a level that keeps a
 * reconnecting BMS from flooding it.
 */
export function routeOpcuaLogs(log: Logger): void {
  const child = log.child({ lib: 'node-opcua' });
  setWarningLogger((...args: unknown[]) => child.debug(format(...args)));
  setErrorLogger((...args: unknown[]) => child.info(format(...args)));
}

/** One adapter per configured OPC UA device (none when the section is disabled). */
export function createOpcuaAdapters(cfg: OpcuaConfig, deps: OpcuaAdapterDeps): OpcuaAdapter[] {
  return cfg.enabled ? cfg.devices.map((d) => createOpcuaAdapter(d, deps)) : [];
}

/**
 * OPC UA client for one server: monitored items for the configured NodeIds,
 * keep-alives as liveness (values are reported by exception, so an
 * unchanged SoC is still current as of the last keep-alive), reconnect with
 * back-off; node-opcua restores the session and its subscriptions after a
 * server restart, and the adapter re-reads every node when that happens.
 */
export function createOpcuaAdapter(cfg: OpcuaDeviceConfig, deps: OpcuaAdapterDeps): OpcuaAdapter {
  const { clock, bus } = deps;
  const log = deps.log.child({ device: cfg.id, endpoint: cfg.endpoint });
  const entries = Object.entries(cfg.nodes).filter((e): e is [Quantity, OpcuaNodeRef] => e[1] !== undefined);
  const values = new Map<Quantity, number>();
  const dataTypes = new Map<string, DataType>();

  let client: OPCUAClient | undefined;
  let session: ClientSession | undefined;
  let subscription: ClientSubscription | undefined;
  let watchdog: TimerHandle | undefined;
  let retry: TimerHandle | undefined;
  let stopping = false;
  let online = false;
  let lastSeen: number | undefined;
  let lastError: string | undefined = 'not connected yet';

  function alarmText(): string | undefined {
    const a = values.get('alarms');
    return a ? `BMS alarm 0x${a.toString(16).padStart(4, '0')}` : undefined;
  }

  function emitDevice(): void {
    bus.emit('device', {
      id: cfg.id,
      protocol: 'opcua',
      kind: 'battery',
      online,
      lastSeen,
      error: online ? alarmText() : lastError,
    });
  }

  function emitValues(quantities: Iterable<Quantity>, ts: number, quality: Quality): void {
    const patch: Record<string, unknown> = {};
    for (const q of quantities) {
      const v = values.get(q);
      if (v !== undefined) patch[q] = reading(v, ts, cfg.id, quality);
    }
    if (Object.keys(patch).length > 0) bus.emit('battery', patch as Partial<BatteryState>);
  }

  let reportedSeen = Number.NEGATIVE_INFINITY;
  function alive(): void {
    lastSeen = clock.now();
    if (!online) {
      online = true;
      lastError = undefined;
      log.info('OPC UA device online');
      emitDevice();
      reportedSeen = lastSeen;
    } else if (lastSeen - reportedSeen >= 1000) {
      // Like a Modbus poll: the device's lastSeen follows every notification and keep-alive (at most once a second).
      emitDevice();
      reportedSeen = lastSeen;
    }
  }

  function goOffline(error: string): void {
    if (!online) {
      if (lastError !== error) {
        lastError = error;
        emitDevice();
      }
      return;
    }
    online = false;
    lastError = error;
    log.warn({ error }, 'OPC UA device offline; readings stale');
    emitDevice();
    emitValues(values.keys(), lastSeen ?? clock.now(), 'stale');
  }

  function onValue(quantity: Quantity, ref: OpcuaNodeRef, dv: DataValue): void {
    if (!dv.statusCode.isGood()) {
      log.warn({ quantity, nodeId: ref.nodeId, status: dv.statusCode.name }, 'OPC UA value not good');
      return;
    }
    const raw = toNumber(dv.value?.value);
    if (raw === undefined) {
      log.warn({ quantity, nodeId: ref.nodeId, value: String(dv.value?.value) }, 'OPC UA value is not numeric');
      return;
    }
    const before = values.get('alarms');
    values.set(quantity, raw * ref.scale);
    alive();
    // Values are reported by exception: any notification proves the unchanged ones are still current.
    emitValues(values.keys(), clock.now(), 'good');
    if (quantity === 'alarms' && Boolean(before) !== Boolean(raw)) emitDevice();
  }

  async function readAll(s: ClientSession): Promise<void> {
    const dvs = await s.read(entries.map(([, ref]) => ({ nodeId: ref.nodeId, attributeId: AttributeIds.Value })));
    entries.forEach(([q, ref], i) => {
      const dv = dvs[i];
      if (dv) onValue(q, ref, dv);
    });
  }

  async function subscribe(s: ClientSession): Promise<void> {
    const sub = await s.createSubscription2({
      requestedPublishingInterval: cfg.publishingIntervalMs,
      // A keep-alive at least every ~4 publishing intervals doubles as the liveness signal.
      requestedMaxKeepAliveCount: Math.max(
        2,
        Math.min(20, Math.floor(cfg.staleAfterMs / cfg.publishingIntervalMs / 3)),
      ),
      requestedLifetimeCount: 60,
      maxNotificationsPerPublish: 100,
      publishingEnabled: true,
      priority: 10,
    });
    subscription = sub;
    sub.on('keepalive', () => {
      alive();
      emitValues(values.keys(), clock.now(), 'good');
    });
    sub.on('terminated', () => {
      if (stopping || subscription !== sub) return;
      log.warn('OPC UA subscription terminated; creating a new one');
      subscription = undefined;
      const current = session;
      if (current)
        void subscribe(current).catch((err) => log.error({ err: (err as Error).message }, 'resubscribe failed'));
    });
    await Promise.all(
      entries.map(async ([q, ref]) => {
        const item = await sub.monitor(
          { nodeId: ref.nodeId, attributeId: AttributeIds.Value },
          { samplingInterval: cfg.samplingIntervalMs, queueSize: 1, discardOldest: true },
          TimestampsToReturn.Neither,
        );
        item.on('changed', (dv: DataValue) => onValue(q, ref, dv));
        item.on('err', (msg: string) =>
          log.warn({ quantity: q, nodeId: ref.nodeId, err: msg }, 'monitored item refused'),
        );
      }),
    );
  }

  async function connect(c: OPCUAClient): Promise<void> {
    await c.connect(cfg.endpoint);
    if (stopping) return;
    const s = await c.createSession(userIdentity(cfg));
    if (stopping) {
      await s.close().catch(() => {});
      return;
    }
    session = s;
    await subscribe(s);
    await readAll(s);
    log.info('OPC UA session and subscription ready');
  }

  function scheduleRetry(): void {
    if (stopping) return;
    // Session-level failures (bad credentials, unknown node) are retried slowly; the transport retries itself.
    retry = clock.setTimeout(() => {
      retry = undefined;
      void attempt();
    }, 10_000);
  }

  async function teardownClient(): Promise<void> {
    const c = client;
    client = undefined;
    const s = session;
    session = undefined;
    subscription = undefined;
    if (s) await s.close(true).catch(() => {});
    if (c) await c.disconnect().catch(() => {});
  }

  /** One connection attempt; resolves after success or at the first failed transport attempt. */
  function attempt(): Promise<void> {
    const c = createClient(cfg, { initialDelay: 250, maxDelay: 5000, maxRetry: -1, randomisationFactor: 0.2 });
    client = c;
    c.on('connection_lost', () => {
      if (!stopping) goOffline('connection lost');
    });
    c.on('connection_reestablished', () => {
      if (stopping) return;
      log.info('OPC UA connection re-established');
      const s = session;
      if (s) void readAll(s).catch((err) => log.warn({ err: (err as Error).message }, 'read after reconnect failed'));
    });
    return new Promise<void>((resolve) => {
      const firstFailure = () => {
        goOffline(`cannot connect to ${cfg.endpoint}`);
        resolve();
      };
      c.once('backoff', firstFailure);
      connect(c)
        .then(() => resolve())
        .catch(async (err: Error) => {
          if (stopping) return resolve();
          log.error({ err: err.message }, 'OPC UA connect failed');
          goOffline(err.message);
          await teardownClient();
          scheduleRetry();
          resolve();
        })
        .finally(() => c.off('backoff', firstFailure));
    });
  }

  function checkStale(): void {
    if (online && lastSeen !== undefined && clock.now() - lastSeen > cfg.staleAfterMs) {
      goOffline(`no notification or keep-alive for ${clock.now() - lastSeen} ms`);
    }
  }

  async function dataTypeOf(s: ClientSession, nodeId: string): Promise<DataType> {
    const cached = dataTypes.get(nodeId);
    if (cached !== undefined) return cached;
    const dv = await s.read({ nodeId, attributeId: AttributeIds.DataType });
    const id = dv.value?.value as { namespace?: number; value?: unknown } | undefined;
    const dt = id && id.namespace === 0 && typeof id.value === 'number' ? (id.value as DataType) : DataType.Double;
    dataTypes.set(nodeId, dt);
    return dt;
  }

  async function write(nodeId: string, value: number | boolean, confirm: boolean): Promise<void> {
    const s = session;
    if (!s || !online) throw new Error(`OPC UA device ${cfg.id} is not connected`);
    const dt = await dataTypeOf(s, nodeId);
    let v: number | boolean = value;
    if (dt === DataType.Boolean) v = Boolean(value);
    else if (NUMERIC_TYPES.has(dt)) v = INTEGER_TYPES.has(dt) ? Math.round(Number(value)) : Number(value);
    else throw new Error(`node ${nodeId} has data type ${DataType[dt]}, not a number or boolean`);
    const status = await s.write({
      nodeId: resolveNodeId(nodeId),
      attributeId: AttributeIds.Value,
      value: { value: { dataType: dt, value: v } },
    });
    if (status !== StatusCodes.Good) throw new Error(`write to ${nodeId} refused: ${status.name}`);
    if (!confirm) return;
    const back = await s.read({ nodeId, attributeId: AttributeIds.Value });
    const got = toNumber(back.value?.value);
    const want = toNumber(v);
    if (got === undefined || want === undefined || Math.abs(got - want) > Math.max(1e-6, Math.abs(want) * 1e-6)) {
      throw new Error(`read-back of ${nodeId} is ${String(back.value?.value)}, wrote ${String(v)}`);
    }
  }

  async function writeSetpoint(powerW: number): Promise<void> {
    const sp = cfg.setpoint;
    if (!sp) throw new Error(`OPC UA device ${cfg.id} has no set-point node configured`);
    if (!Number.isFinite(powerW)) throw new Error('set-point must be a finite number');
    await write(sp.powerW.nodeId, powerW / sp.powerW.scale, sp.confirm);
    log.debug({ powerW }, 'battery set-point written');
  }

  return {
    id: `opcua:${cfg.id}`,
    get connected() {
      return online;
    },
    url: () => cfg.endpoint.replace(/\/\/[^@/]*@/, '//'),
    writeSetpoint,
    write: (nodeId, value) => write(nodeId, value, true),
    applySetpoint: (setpoint: Setpoint) => writeSetpoint(setpoint.powerW),

    async start() {
      stopping = false;
      emitDevice();
      const interval = Math.max(250, Math.min(cfg.staleAfterMs / 4, 5000));
      watchdog = clock.setInterval(checkStale, interval);
      await attempt();
    },

    async stop() {
      stopping = true;
      // Neither the staleness check nor a pending reconnect may fire after stop().
      clock.clearInterval(watchdog);
      clock.clearTimeout(retry);
      watchdog = retry = undefined;
      const sub = subscription;
      if (sub && online) await sub.terminate().catch(() => {});
      await teardownClient();
      if (online) {
        online = false;
        lastError = 'adapter stopped';
        emitDevice();
      }
    },
  };
}
