import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../src/model/clock.js';

/**
 * OSCP 2.0 capacity provider (a DSO) for tests and the demo: accepts
 * Register/Handshake/Heartbeat/UpdateGroupMeasurements/AdjustGroupCapacityForecast
 * from a flexibility provider, records them, and pushes capacity forecasts
 * and heartbeats to it. Switchable outage; an adjust request is granted up
 * to `grantUpToKw`.
 */
export interface OscpCpSimOptions {
  readonly port?: number;
  readonly host?: string;
  /** Time of the simulated utility (the test's virtual clock, or a wall clock the caller owns). */
  readonly clock: Clock;
  /** Token the flexibility provider must present to us. */
  readonly cpToken?: string;
  /** Largest capacity an AdjustGroupCapacityForecast is granted, kW (0: never). */
  readonly grantUpToKw?: number;
}

export interface OscpMessage {
  readonly name: string;
  readonly body: Record<string, unknown>;
  readonly at: number;
}

export interface OscpCpSim {
  readonly url: string;
  readonly cpToken: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  setOutage(code: 500 | 503 | null): void;
  readonly received: readonly OscpMessage[];
  /** The FP's registration (its token and base URL). */
  readonly fp: () => { token: string; baseUrl: string } | undefined;
  /** Push UpdateGroupCapacityForecast to the FP; resolves with the FP's HTTP status. */
  sendForecast(groupId: string, type: string, blocks: ReadonlyArray<Record<string, unknown>>): Promise<number>;
  sendRaw(name: string, body: unknown): Promise<number>;
  sendHeartbeat(offlineInMs: number): Promise<number>;
}

export function createOscpCpSim(opts: OscpCpSimOptions): OscpCpSim {
  const { clock } = opts;
  const cpToken = opts.cpToken ?? randomUUID();
  const received: OscpMessage[] = [];
  let outage: 500 | 503 | null = null;
  let fp: { token: string; baseUrl: string } | undefined;
  let server: Server | undefined;
  let url = '';

  const sendRaw = async (name: string, body: unknown): Promise<number> => {
    if (!fp) throw new Error('no flexibility provider registered');
    const res = await fetch(`${fp.baseUrl.replace(/\/+$/, '')}/${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Token ${fp.token}`, 'x-request-id': randomUUID() },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(2000),
    });
    await res.body?.cancel();
    return res.status;
  };

  const onMessage = (name: string, body: Record<string, unknown>) => {
    received.push({ name, body, at: clock.now() });
    if (name === 'register') {
      const versions = (body['version_url'] as Array<{ base_url: string }> | undefined) ?? [];
      fp = { token: String(body['token']), baseUrl: versions[0]?.base_url ?? '' };
    }
    if (name === 'handshake') {
      setImmediate(
        () =>
          void sendRaw('handshake_acknowledgement', { required_behaviour: { heartbeat_interval: 60 } }).catch(() => {}),
      );
    }
    if (name === 'adjust_group_capacity_forecast' && (opts.grantUpToKw ?? 0) > 0) {
      const blocks = (body['forecasted_blocks'] as Array<Record<string, unknown>>) ?? [];
      const granted = blocks.map((b) => ({
        ...b,
        capacity: Math.min(Number(b['capacity']), opts.grantUpToKw ?? 0),
        unit: 'KW',
      }));
      setImmediate(
        () =>
          void sendRaw('update_group_capacity_forecast', {
            group_id: body['group_id'],
            type: 'CONSUMPTION',
            forecasted_blocks: granted,
          }).catch(() => {}),
      );
    }
  };

  return {
    get url() {
      return url;
    },
    cpToken,
    received,
    fp: () => fp,
    async start() {
      server = createServer((req, res) => {
        let data = '';
        req.setEncoding('utf8');
        req.on('data', (c: string) => {
          data += c;
        });
        req.on('end', () => {
          if (outage !== null) return void res.writeHead(outage).end();
          if (req.headers.authorization !== `Token ${cpToken}`) return void res.writeHead(401).end();
          const path = new URL(req.url ?? '/', 'http://x').pathname;
          const m = /^\/oscp\/cp\/2\.0\/([a-z_]+)$/.exec(path);
          if (req.method !== 'POST' || !m?.[1]) return void res.writeHead(404).end();
          let body: Record<string, unknown>;
          try {
            body = JSON.parse(data || '{}') as Record<string, unknown>;
          } catch {
            return void res.writeHead(400).end();
          }
          onMessage(m[1], body);
          res.writeHead(204).end();
        });
      });
      await new Promise<void>((resolve) => server?.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve()));
      url = `http://${opts.host ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}/oscp/cp/2.0`;
    },
    async stop() {
      const s = server;
      server = undefined;
      if (s) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
    setOutage(code) {
      outage = code;
    },
    sendForecast(groupId, type, blocks) {
      return sendRaw('update_group_capacity_forecast', { group_id: groupId, type, forecasted_blocks: blocks });
    },
    sendRaw,
    sendHeartbeat(offlineInMs) {
      return sendRaw('heartbeat', { offline_mode_at: new Date(clock.now() + offlineInMs).toISOString() });
    },
  };
}
