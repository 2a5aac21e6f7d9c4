import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Gateway, createGateway } from '../../src/cli/compose.js';
import { SystemClock } from '../../src/model/clock.js';
import { createLogger } from '../../src/util/logger.js';
import { testConfig } from '../helpers/core.js';
import { type JsonCms, startJsonCms, startWebhookSink } from './peers/ocpp-json.js';

/**
 * The setting of the session-identity tests: a gateway built with
 * `createGateway` on a data directory that survives its restarts, an
 * independent CMS (plain ws + JSON) that can go away and come back on the
 * same address counting its transaction ids from 1 again, a webhook
 * receiver, and the gateway's warnings.
 */

export type Json = Record<string, unknown>;

export async function until(cond: () => boolean, ms = 8000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const ISO = (ms: number) => new Date(ms).toISOString();
export const T0 = Date.parse('2026-01-05T08:00:00Z');

export function energy16(wh: number, at: number): Json[] {
  return [
    {
      timestamp: ISO(at),
      sampledValue: [{ value: String(wh), measurand: 'Energy.Active.Import.Register', unit: 'Wh' }],
    },
  ];
}

export function energy201(wh: number, at: number): Json[] {
  return [{ timestamp: ISO(at), sampledValue: [{ value: wh, measurand: 'Energy.Active.Import.Register' }] }];
}

export async function identityStack(cleanups: Array<() => Promise<void> | void>) {
  const dir = mkdtempSync(join(tmpdir(), 'gk-identity-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const hooks = await startWebhookSink();
  cleanups.push(() => hooks.stop());
  let cms = await startJsonCms({ firstTxId: 1 });
  const cmsPort = Number(new URL(cms.url).port);
  const cmsList: JsonCms[] = [cms];
  cleanups.push(() => cms.stop());
  let gw: Gateway | undefined;
  const logs: Json[] = [];
  const logSink = { write: (line: string) => void logs.push(JSON.parse(line) as Json) };
  const startGateway = async () => {
    gw = createGateway(
      testConfig({
        store: { path: join(dir, 'gridkeeper.db') },
        api: { port: 0, anonymousRead: true },
        ocpp: {
          port: 0,
          unknownChargers: 'accept',
          forwardTimeoutMs: 1500,
          upstream: { url: cms.url, reconnectMinMs: 100, reconnectMaxMs: 300, pingIntervalMs: 0 },
        },
        integration: {
          webhooks: [
            {
              id: 'billing',
              url: hooks.url,
              events: ['session.started', 'session.stopped'],
              secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
            },
          ],
          webhookDelivery: { initialBackoffMs: 50, maxBackoffMs: 200 },
        },
      } as never),
      {
        clock: new SystemClock(),
        log: createLogger({ level: 'warn', destination: logSink }),
        env: {},
      },
    );
    await gw.start();
    return gw;
  };
  cleanups.push(async () => {
    await gw?.stop();
  });
  return {
    hooks,
    logs,
    cmsList,
    cms: () => cms,
    gateway: () => gw as Gateway,
    startGateway,
    stopGateway: async () => {
      await gw?.stop();
      gw = undefined;
    },
    /** The CMS goes away; a fresh one (counting its ids from 1 again) comes back on the same address. */
    cmsDown: () => cms.stop(),
    cmsUp: async () => {
      cms = await startJsonCms({ port: cmsPort, firstTxId: 1 });
      cmsList.push(cms);
      return cms;
    },
    ocppUrl: (id: string) => `${(gw as Gateway).urls().ocpp}/${id}`,
    sessions: async (chargerId: string) => {
      const res = await fetch(`${(gw as Gateway).api()?.url()}/api/v1/sessions?chargerId=${chargerId}&limit=50`);
      const body = (await res.json()) as { items?: Json[]; data?: Json[] } | Json[];
      const items = Array.isArray(body) ? body : (body.items ?? body.data ?? []);
      return [...items].sort((a, b) => String(a.startedAt).localeCompare(String(b.startedAt)));
    },
  };
}

/** Every webhook of `type` about `chargerId`, by session id. */
export function hookCount(bodies: Json[], type: string, chargerId: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const b of bodies) {
    const d = b.data as Json;
    if (b.type !== type || d.chargerId !== chargerId) continue;
    out.set(String(d.sessionId), (out.get(String(d.sessionId)) ?? 0) + 1);
  }
  return out;
}

/** Transaction ids in charger messages a CMS received that it never issued. */
export function foreignIds(cms: JsonCms, chargerId: string): unknown[] {
  return cms.received
    .filter((r) => r.chargerId === chargerId && (r.action === 'MeterValues' || r.action === 'StopTransaction'))
    .map((r) => r.params.transactionId)
    .filter((tx) => tx !== undefined && !cms.issued.includes(tx as number));
}
