import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CmsPeer } from '../../../bench/peers/cms.js';
import { type RunningGateway, startGateway, waitFor } from './gateway-harness.js';
import { BOOT, connectCharger } from './plain-charger.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap in use after full collections (several: weak maps and finalisers need more than one pass). */
async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

const MiB = 2 ** 20;

describe('reconnects of one charger', () => {
  let cms: CmsPeer;
  let gw: RunningGateway;

  beforeAll(async () => {
    cms = new CmsPeer();
    gw = await startGateway({ upstream: { url: await cms.ready() } });
  });
  afterAll(async () => {
    await gw?.stop();
    await cms?.close();
  });

  async function reconnect(times: number): Promise<void> {
    for (let i = 0; i < times; i++) {
      const c = await connectCharger(gw.url, 'CP0');
      // Through to the CMS, so each connection also opens (and later drops) its own CMS link.
      await c.call('BootNotification', BOOT);
      await c.close();
    }
    // The last link has let go of its CMS connection too.
    await waitFor(() => !cms.connected('CP0'), 3000);
  }

  it('keeps the heap flat: ≤ 5 MiB per 1000 reconnects (measured after GC)', async () => {
    await reconnect(100);
    const before = await heapAfterGc();
    const n = 400;
    await reconnect(n);
    const after = await heapAfterGc();
    const perThousand = ((after - before) / MiB) * (1000 / n);
    // The leak this guards against kept every earlier link (sockets, CMS client, parsers): ~28 MiB per 1000.
    process.stdout.write(`heap growth: ${perThousand.toFixed(2)} MiB per 1000 reconnects\n`);
    expect(perThousand).toBeLessThanOrEqual(5);
  }, 60_000);
});
