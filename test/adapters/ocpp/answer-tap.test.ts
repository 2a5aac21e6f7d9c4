import type { AddressInfo } from 'node:net';
import { RPCClient, RPCServer, createRPCError } from 'ocpp-rpc';
import { afterEach, describe, expect, it } from 'vitest';
import { answersTapped, callWithId } from '../../../adapters/ocpp/rpc/call.js';
import { SystemClock } from '../../../src/model/clock.js';

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c().catch(() => {});
});

/** An ocpp-rpc server (the other side) that answers Heartbeat, refuses DataTransfer and never answers Reset. */
async function pair(): Promise<RPCClient> {
  const server = new RPCServer({ protocols: ['ocpp1.6'], strictMode: false });
  server.on('client', (c) => {
    c.handle('Heartbeat', () => ({ currentTime: new Date().toISOString() }));
    c.handle('DataTransfer', () => {
      throw createRPCError('NotSupported', 'no vendor data here');
    });
    c.handle('Reset', () => new Promise(() => {}));
  });
  const http = await server.listen(0, '127.0.0.1');
  closers.push(() => server.close({ force: true }));
  const port = (http.address() as AddressInfo).port;
  const client = new RPCClient({
    endpoint: `ws://127.0.0.1:${port}`,
    identity: 'CP0',
    protocols: ['ocpp1.6'],
    reconnect: false,
  } as ConstructorParameters<typeof RPCClient>[0]);
  await client.connect();
  closers.push(() => client.close({ force: true }));
  return client;
}

describe('callWithId answers', () => {
  const opts = { clock: new SystemClock(), timeoutMs: 500 };

  it('are settled without ocpp-rpc reporting them as stray answers (no RPCError per forwarded answer)', async () => {
    const client = await pair();
    const strays: unknown[] = [];
    client.on('badMessage', (e) => strays.push(e));
    expect(answersTapped(client)).toBe(true);
    for (let i = 0; i < 20; i++) {
      const r = (await callWithId(client, `fwd-${i}`, 'Heartbeat', {}, opts)) as { currentTime: string };
      expect(typeof r.currentTime).toBe('string');
    }
    await expect(callWithId(client, 'fwd-err', 'DataTransfer', { vendorId: 'x' }, opts)).rejects.toMatchObject({
      rpcErrorCode: 'NotSupported',
    });
    expect(strays).toEqual([]);
    // ocpp-rpc's own calls on the same socket still work.
    expect(await client.call('Heartbeat', {})).toHaveProperty('currentTime');
  });

  it('time out, refuse a message id already in flight, and fail when the socket closes', async () => {
    const client = await pair();
    await expect(callWithId(client, 'slow', 'Reset', { type: 'Soft' }, { ...opts, timeoutMs: 100 })).rejects.toThrow(
      /no answer in time/,
    );
    const pending = callWithId(client, 'dup', 'Reset', { type: 'Soft' }, { ...opts, timeoutMs: 5000 }).catch(
      (e: Error) => e,
    );
    await expect(callWithId(client, 'dup', 'Reset', { type: 'Soft' }, opts)).rejects.toThrow(/already in flight/);
    await client.close({ force: true });
    expect(String(await pending)).toMatch(/socket closed/);
  });
});
