import { afterEach } from 'vitest';
import WebSocket from 'ws';
import { OCPP_MIGRATIONS, createOcppProxy, type OcppProxy, type OcppProxyDeps } from '../../../adapters/ocpp/index.js';
import type { GatewayConfigInput } from '../../../src/config/schema.js';
import { type Clock, SystemClock, VirtualClock } from '../../../src/model/clock.js';
import { CmsSim } from '../../../sim/cloud/cms.js';
import { createLogger } from '../../../src/util/logger.js';
import { testCore } from '../../helpers/core.js';

export type TestCore = ReturnType<typeof testCore>;

export interface Stack {
  readonly core: TestCore;
  readonly proxy: OcppProxy;
  readonly cms: CmsSim;
  readonly clock: Clock;
  close(): Promise<void>;
}

export interface StackOptions {
  readonly clock?: Clock;
  readonly chargers?: GatewayConfigInput['chargers'];
  readonly ocpp?: Record<string, unknown>;
  readonly upstream?: Record<string, unknown> | false;
  readonly storePath?: string;
  readonly cms?: CmsSim;
  /** Also run the control loop (default: process image only). */
  readonly loop?: boolean;
  /** Optional proxy hooks (authoriser, alerts, ...). */
  readonly hooks?: Pick<
    OcppProxyDeps,
    'authorise' | 'authoriseTimeoutMs' | 'onChargerError' | 'onFirmwareStatus' | 'onEvChargingNeeds'
  >;
}

/** A core (in-memory or file DB), the proxy on port 0 and a CMS sim on port 0, upstream pointing at it. */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const clock = opts.clock ?? new VirtualClock(Date.UTC(2026, 0, 5, 8));
  const cms = opts.cms ?? new CmsSim({ clock });
  if (!opts.cms) await cms.start();
  const upstream =
    opts.upstream === false
      ? {}
      : { upstream: { url: cms.url, reconnectMinMs: 50, reconnectMaxMs: 400, ...opts.upstream } };
  const core = testCore(
    {
      chargers: opts.chargers ?? [],
      ocpp: { port: 0, ...upstream, ...opts.ocpp } as GatewayConfigInput['ocpp'],
      ...(opts.storePath ? { store: { path: opts.storePath } } : {}),
    },
    {
      clock,
      migrations: OCPP_MIGRATIONS,
      // GK_TEST_LOG=debug shows the proxy's log while debugging a test.
      ...(process.env.GK_TEST_LOG ? { log: createLogger({ level: process.env.GK_TEST_LOG }) } : {}),
    },
  );
  const proxy = createOcppProxy(
    { ocpp: core.config.ocpp, chargers: core.config.chargers, site: core.config.site },
    { ...core, metrics: core.metrics, ...opts.hooks },
  );
  // The process image only; the control loop would throttle the chargers (no grid meter here = failsafe).
  if (opts.loop) core.start();
  else core.state.start();
  await proxy.start();
  return {
    core,
    proxy,
    cms,
    clock,
    async close() {
      await proxy.stop();
      if (opts.loop) core.stop();
      else {
        core.state.stop();
        core.db.close();
      }
      if (!opts.cms) await cms.stop();
    },
  };
}

/**
 * What a test starts, closed after it in reverse order (so a charger stops
 * before the proxy it is connected to), also when the test fails midway.
 */
export function perTest() {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });
  return {
    /** `startStack`, closed after the test. */
    async start(opts: StackOptions = {}): Promise<Stack> {
      const stack = await startStack(opts);
      closers.push(() => stack.close());
      return stack;
    },
    /** A charger, depot or socket, stopped after the test. */
    add<C extends { stop(): Promise<unknown> }>(thing: C): C {
      closers.push(() => thing.stop());
      return thing;
    },
  };
}

/** End a CMS outage and wait until the proxy has delivered its whole outbox (virtual time moves meanwhile). */
export async function endOutage(
  stack: Pick<Stack, 'cms' | 'proxy'>,
  clock: Clock,
  opts: { advanceMs?: number; timeoutMs?: number } = {},
): Promise<void> {
  await stack.cms.setOutage(false);
  await waitFor(() => stack.proxy.outbox.counts().pending === 0, {
    clock,
    advanceMs: opts.advanceMs ?? 200,
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    what: 'replay',
  });
}

/**
 * Poll until `pred` holds, in real time (sockets), optionally moving a
 * virtual clock forward by `advanceMs` per poll so clock-driven timers fire.
 */
export async function waitFor(
  pred: () => boolean,
  opts: { timeoutMs?: number; clock?: Clock; advanceMs?: number; what?: string } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 5000);
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? 'condition'}`);
    if (opts.clock instanceof VirtualClock && opts.advanceMs) opts.clock.advance(opts.advanceMs);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A raw WebSocket charger that can send anything, and collects what it gets back. */
export async function rawCharger(url: string, protocol = 'ocpp1.6', headers: Record<string, string> = {}) {
  const ws = new WebSocket(url, [protocol], { headers });
  const inbox: unknown[] = [];
  ws.on('message', (m) => inbox.push(JSON.parse(m.toString())));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
  return {
    ws,
    inbox,
    /** Send a frame; resolves with the first three elements of the answer ([type, id, code-or-payload]). */
    async send(frame: string): Promise<unknown[]> {
      const n = inbox.length;
      ws.send(frame);
      await waitFor(() => inbox.length > n, { what: `answer to ${frame}` });
      return (inbox[inbox.length - 1] as unknown[]).slice(0, 3);
    },
  };
}

export { SystemClock, VirtualClock };

/** A session named by its charger and the transaction id the charger knows (sessions have their own ids). */
export interface TxRef {
  readonly chargerId: string;
  readonly tx: string;
}

export function txRef(chargerId: string, tx: string | number | undefined): TxRef {
  return { chargerId, tx: String(tx) };
}

/** The newest session of a charger with that charger transaction id. */
export function byTx(core: TestCore, ref: TxRef) {
  return core.sessions.list({ chargerId: ref.chargerId }).find((s) => s.chargerTransactionId === ref.tx);
}
