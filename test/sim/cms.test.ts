import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/model/clock.js';
import { CmsSim } from '../../sim/cloud/cms.js';
import { connectRaw, until } from './helpers.js';

const basic = (id: string, pw: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${pw}`).toString('base64')}` });

describe('CmsSim seen from a bare charger', () => {
  let cms: CmsSim | undefined;
  afterEach(async () => {
    await cms?.stop();
    cms = undefined;
  });

  async function start(opts: Partial<ConstructorParameters<typeof CmsSim>[0]> = {}) {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    cms = new CmsSim({ clock, ...opts });
    await cms.start();
    return cms;
  }

  it('negotiates the subprotocol, checks Basic auth, and refuses everyone during an outage', async () => {
    const c = await start({ passwords: { PW1: 'secret' } });
    const two = await connectRaw(`${c.url}/V2`, ['ocpp2.0.1', 'ocpp1.6']);
    expect(two.ws.protocol).toBe('ocpp2.0.1');
    await expect(connectRaw(`${c.url}/X`, ['ocpp9'])).rejects.toThrow(/HTTP 400/);
    await expect(connectRaw(`${c.url}/PW1`, ['ocpp1.6'], basic('PW1', 'wrong'))).rejects.toThrow(/HTTP 401/);
    await expect(connectRaw(`${c.url}/PW1`, ['ocpp1.6'])).rejects.toThrow(/HTTP 401/);
    const ok = await connectRaw(`${c.url}/PW1`, ['ocpp1.6'], basic('PW1', 'secret'));
    await until(() => c.connectedIds().includes('PW1'), 'connected');

    const closed = new Promise((r) => ok.ws.once('close', r));
    await c.setOutage(true);
    await closed;
    await expect(connectRaw(`${c.url}/V3`, ['ocpp1.6'])).rejects.toThrow(/HTTP 503/);
    await c.setOutage(false);
    const back = await connectRaw(`${c.url}/V3`, ['ocpp1.6']);
    expect((await back.result('Heartbeat', {})).currentTime).toBe('2026-01-05T08:00:00.000Z');
    for (const e of [two, back]) e.ws.close();

    // Stopped and started again (a restart): same URL, its records and transactions kept.
    const url = c.url;
    const seen = c.records.length;
    await c.stop();
    await expect(connectRaw(`${url}/V4`, ['ocpp1.6'])).rejects.toThrow();
    await c.start();
    expect(c.url).toBe(url);
    const again = await connectRaw(`${url}/V4`, ['ocpp1.6']);
    await again.result('Heartbeat', {});
    expect(c.records.length).toBe(seen + 1);
    again.ws.close();
  });

  it('issues its own transaction ids and records every call once per message id, also when it lost the answer', async () => {
    const c = await start({ firstTransactionId: 500, invalidIdTags: ['BAD'] });
    const cp = await connectRaw(`${c.url}/T1`, ['ocpp1.6']);
    expect(await cp.result('BootNotification', { chargePointVendor: 'v', chargePointModel: 'm' })).toMatchObject({
      status: 'Accepted',
      interval: 300,
    });
    expect(await cp.result('Authorize', { idTag: 'BAD' })).toEqual({ idTagInfo: { status: 'Invalid' } });
    const start1 = { connectorId: 1, idTag: 'A', meterStart: 1000, timestamp: '2026-01-05T08:00:00.000Z' };
    const first = await cp.call('StartTransaction', start1, 'm-1');
    expect(first).toEqual([3, 'm-1', { transactionId: 500, idTagInfo: { status: 'Accepted' } }]);
    // The same message again (a charger that missed the answer): same answer, no second transaction.
    expect(await cp.call('StartTransaction', start1, 'm-1')).toEqual(first);
    expect(c.transactions.size).toBe(1);

    // The CMS books the next start but its answer is lost; the resend under the same id gets it.
    c.dropAnswers(1, 'StartTransaction');
    const start2 = { ...start1, connectorId: 2, idTag: 'B' };
    await expect(cp.call('StartTransaction', start2, 'm-2', 300)).rejects.toThrow(/no answer/);
    expect(await cp.call('StartTransaction', start2, 'm-2')).toEqual([
      3,
      'm-2',
      { transactionId: 501, idTagInfo: { status: 'Accepted' } },
    ]);
    expect(c.transactions.size).toBe(2);

    await cp.result('StopTransaction', { transactionId: 500, meterStop: 4000, timestamp: start1.timestamp });
    expect(c.transactions.get(500)).toMatchObject({ stopped: true, stops: 1, meterStart: 1000, meterStop: 4000 });
    c.failNext('MeterValues', 'InternalError');
    const refused = await cp.call('MeterValues', { connectorId: 1, meterValue: [] });
    expect(refused.slice(0, 3)).toEqual([4, expect.any(String), 'InternalError']);

    const log = c.received(undefined, 'T1').map((r) => [r.action, r.messageId, r.duplicate]);
    expect(log.filter((r) => r[0] === 'StartTransaction')).toEqual([
      ['StartTransaction', 'm-1', false],
      ['StartTransaction', 'm-1', true],
      ['StartTransaction', 'm-2', false],
      ['StartTransaction', 'm-2', true],
    ]);
    expect(c.records.map((r) => r.seq)).toEqual(c.records.map((_, i) => i + 1));
    cp.ws.close();
  });

  it('books 2.x transaction events by the charger id and sends CMS calls to the charger', async () => {
    const c = await start();
    const cp = await connectRaw(`${c.url}/T2`, ['ocpp2.0.1'], {}, (action) =>
      action === 'GetVariables' ? { getVariableResult: [] } : { status: 'Accepted' },
    );
    await until(() => c.connectedIds().includes('T2'), 'connected');
    const ev = (eventType: string, seqNo: number) => ({
      eventType,
      seqNo,
      timestamp: '2026-01-05T08:00:00.000Z',
      triggerReason: 'Authorized',
      transactionInfo: { transactionId: 'tx-9' },
      ...(seqNo === 0 ? { idToken: { idToken: 'A', type: 'ISO14443' } } : {}),
    });
    expect(await cp.result('TransactionEvent', ev('Started', 0))).toEqual({ idTokenInfo: { status: 'Accepted' } });
    await cp.result('TransactionEvent', ev('Ended', 1));
    expect(c.transactionsV2.get('tx-9')).toMatchObject({ seqNos: [0, 1], ended: true });
    expect(await c.call('T2', 'RequestStopTransaction', { transactionId: 'tx-9' })).toEqual({ status: 'Accepted' });
    expect(await c.call('T2', 'GetVariables', { getVariableData: [] }, 'cms-id-1')).toEqual({ getVariableResult: [] });
    expect(cp.calls.map((x) => [x.action, x.id]).at(-1)).toEqual(['GetVariables', 'cms-id-1']);
    cp.ws.close();
  });
});
