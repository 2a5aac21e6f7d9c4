import WebSocket from 'ws';

/**
 * A bare OCPP 1.6J charger on plain `ws` with its own three-line codec: it
 * knows nothing of the gateway's modules, so what it sees is what a real
 * charger would see on the wire.
 */
export interface PlainCharger {
  readonly ws: WebSocket;
  /** Resolves with the close code once the socket is closed (by either side). */
  readonly closed: Promise<number>;
  call(action: string, payload: Record<string, unknown>, timeoutMs?: number): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function connectCharger(
  url: string,
  id: string,
  opts: { autoPong?: boolean; password?: string } = {},
): Promise<PlainCharger> {
  const headers: Record<string, string> = {};
  if (opts.password !== undefined)
    headers.authorization = `Basic ${Buffer.from(`${id}:${opts.password}`).toString('base64')}`;
  const ws = new WebSocket(`${url}/${id}`, ['ocpp1.6'], {
    perMessageDeflate: false,
    autoPong: opts.autoPong ?? true,
    headers,
  });
  ws.on('error', () => {});
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`${id}: HTTP ${res.statusCode}`)));
    ws.once('close', () => reject(new Error(`${id}: closed before open`)));
  });
  let seq = 0;
  const waiting = new Map<string, (frame: unknown[]) => void>();
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as unknown[];
    if (frame[0] === 2) {
      // Calls from the gateway or CMS: accept whatever it is.
      ws.send(JSON.stringify([3, frame[1], { status: 'Accepted' }]));
      return;
    }
    waiting.get(String(frame[1]))?.(frame);
  });
  return {
    ws,
    closed,
    call(action, payload, timeoutMs = 10_000) {
      const msgId = `pc-${id}-${seq++}`;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(msgId);
          reject(new Error(`${action}: no answer`));
        }, timeoutMs);
        waiting.set(msgId, (frame) => {
          clearTimeout(timer);
          waiting.delete(msgId);
          if (frame[0] === 3) resolve(frame[2] as Record<string, unknown>);
          else reject(new Error(`${action}: CALLERROR ${String(frame[2])}`));
        });
        ws.send(JSON.stringify([2, msgId, action, payload]));
      });
    },
    async close() {
      if (ws.readyState === WebSocket.CLOSED) return;
      ws.terminate();
      await closed;
    },
  };
}

export const BOOT = { chargePointVendor: 'Plain', chargePointModel: 'P1' };
