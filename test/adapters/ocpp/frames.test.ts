import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { VirtualClock } from '../../../src/model/clock.js';
import { SimCharger } from '../../../sim/devices/ocpp/charger.js';
import { type Stack, rawCharger, startStack, waitFor } from './helpers.js';

describe('OCPP proxy: malformed and invalid frames', () => {
  let stack: Stack | undefined;
  const closers: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
    await stack?.close();
    stack = undefined;
  });

  it('answers every bad frame with the spec CALLERROR, keeps the connection and other chargers unaffected', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    stack = await startStack({ clock, chargers: [{ id: 'RAW1' }, { id: 'OK1' }] });
    const good = new SimCharger({ id: 'OK1', protocol: 'ocpp1.6', url: stack.proxy.url(), clock });
    closers.push(() => good.stop());
    await good.start();
    await waitFor(() => good.booted, { what: 'boot' });

    const raw = await rawCharger(`${stack.proxy.url()}/RAW1`);
    closers.push(() => raw.ws.close());

    expect((await raw.send('this is not json'))[2]).toBe('FormationViolation');
    expect((await raw.send('{"an":"object"}'))[2]).toBe('FormationViolation');
    expect((await raw.send('[7,"x1","Heartbeat",{}]'))[2]).toBe('NotSupported');
    expect(await raw.send('[2,"m1","NoSuchAction",{}]')).toEqual([4, 'm1', 'NotImplemented']);
    expect(await raw.send('[2,"m2","BootNotification",{"chargePointVendor":5,"chargePointModel":"x"}]')).toEqual([
      4,
      'm2',
      'TypeConstraintViolation',
    ]);
    expect(await raw.send('[2,"m3","BootNotification",{"chargePointVendor":"v"}]')).toEqual([
      4,
      'm3',
      'OccurrenceConstraintViolation',
    ]);
    expect(await raw.send('[2,"m4","Heartbeat",{"extra":true}]')).toEqual([4, 'm4', 'PropertyConstraintViolation']);
    expect(
      await raw.send(`[2,"m5","BootNotification",{"chargePointVendor":"${'v'.repeat(30)}","chargePointModel":"x"}]`),
    ).toEqual([4, 'm5', 'FormationViolation']);

    // Still connected, and a valid call goes through to the CMS with the charger's own message id.
    expect(raw.ws.readyState).toBe(WebSocket.OPEN);
    const ok = await raw.send('[2,"hb-1","Heartbeat",{}]');
    expect(ok[0]).toBe(3);
    expect(ok[1]).toBe('hb-1');
    expect(stack.cms.received('Heartbeat', 'RAW1').map((r) => r.messageId)).toEqual(['hb-1']);
    // Invalid frames never reached the CMS.
    expect(stack.cms.received(undefined, 'RAW1').map((r) => r.action)).toEqual(['Heartbeat']);
    // The other charger kept working.
    const hb = await good.request('Heartbeat', {});
    expect(hb?.currentTime).toBeTypeOf('string');
  });

  it("checks a charger's answers to the gateway's own calls against the schema and counts bad ones", async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    stack = await startStack({ clock, chargers: [{ id: 'RAW2' }] });
    const { proxy, core } = stack;
    const raw = await rawCharger(`${proxy.url()}/RAW2`);
    closers.push(() => raw.ws.close());
    await waitFor(() => proxy.connected().includes('RAW2'), { what: 'connected' });
    const badFrames = async () =>
      (await core.metrics.getSingleMetric('gridkeeper_ocpp_bad_frames_total')?.get())?.values[0]?.value ?? 0;

    /** Answer the next call the gateway sends with `result`, and return what the command resolved to. */
    const answerNextCall = async (result: unknown) => {
      const n = raw.inbox.length;
      const pending = proxy.commands.setAvailability({ chargerId: 'RAW2', available: false });
      await waitFor(() => raw.inbox.length > n, { what: 'gateway call' });
      const call = raw.inbox.at(-1) as [number, string, string];
      expect(call.slice(0, 1).concat(call.slice(2, 3))).toEqual([2, 'ChangeAvailability']);
      raw.ws.send(JSON.stringify([3, call[1], result]));
      return pending;
    };
    expect(await answerNextCall({ status: 'Accepted' })).toMatchObject({ status: 'Accepted' });
    expect(await badFrames()).toBe(0);
    expect(await answerNextCall({ status: 'Maybe' })).toMatchObject({ status: 'Rejected' });
    expect(await badFrames()).toBe(1);
  });

  it("checks the CMS's calls where they arrive and the charger's answers to them, once", async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    stack = await startStack({ clock, chargers: [{ id: 'RAW3' }] });
    const { proxy, cms } = stack;
    const raw = await rawCharger(`${proxy.url()}/RAW3`);
    closers.push(() => raw.ws.close());
    await waitFor(() => proxy.upstreamOnline('RAW3'), { what: 'CMS link' });
    // The CMS's calls at the charger (the gateway's own, e.g. its measurand settings, left aside).
    const calls = () =>
      raw.inbox.filter((f) => {
        const [type, , action] = f as unknown[];
        return type === 2 && (action === 'RemoteStartTransaction' || action === 'UnlockConnector');
      });

    // An invalid CMS call is refused on the CMS leg and never reaches the charger.
    await expect(cms.call('RAW3', 'RemoteStartTransaction', { connectorId: 1 })).rejects.toThrow();
    expect(calls()).toEqual([]);

    // A valid one is passed on with the CMS's message id; the charger's invalid answer goes back as a CALLERROR.
    const pending = cms.call('RAW3', 'UnlockConnector', { connectorId: 1 }, 'cms-1');
    await waitFor(() => calls().length > 0, { what: 'call at the charger' });
    expect((calls()[0] as unknown[]).slice(0, 3)).toEqual([2, 'cms-1', 'UnlockConnector']);
    raw.ws.send(JSON.stringify([3, 'cms-1', { status: 'Maybe' }]));
    await expect(pending).rejects.toThrow();

    // And a valid answer is relayed unchanged.
    const ok = cms.call('RAW3', 'UnlockConnector', { connectorId: 1 }, 'cms-2');
    await waitFor(() => calls().length > 1, { what: 'second call at the charger' });
    raw.ws.send(JSON.stringify([3, 'cms-2', { status: 'Unlocked' }]));
    expect(await ok).toEqual({ status: 'Unlocked' });
  });

  it('refuses unknown chargers when configured to, and accepts them with default specs otherwise', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    stack = await startStack({ clock, chargers: [{ id: 'KNOWN' }], ocpp: { unknownChargers: 'reject' } });
    await expect(rawCharger(`${stack.proxy.url()}/STRANGER`)).rejects.toThrow(/404/);
    await expect(rawCharger(`ws://127.0.0.1:${stack.proxy.port()}/elsewhere/KNOWN`)).rejects.toThrow(/404/);
    const k = await rawCharger(`${stack.proxy.url()}/KNOWN`);
    closers.push(() => k.ws.close());
    await stack.close();

    stack = await startStack({ clock, ocpp: { unknownChargers: 'accept' } });
    const specs: string[] = [];
    stack.core.bus.on('evse.spec', (s) => specs.push(`${s.id}:${s.maxCurrentA}`));
    const s = await rawCharger(`${stack.proxy.url()}/STRANGER`);
    closers.push(() => s.ws.close());
    await waitFor(() => specs.length > 0, { what: 'spec' });
    expect(specs).toEqual(['STRANGER/1:32']);
  });
});
