import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { askAuthoriser, mergeAuthorisation } from '../../../adapters/ocpp/auth.js';
import type { AuthoriseRequest, AuthoriserAnswer, OcppProxyDeps } from '../../../adapters/ocpp/index.js';
import type { AlertService } from '../../../src/integration/alerts.js';
import type { ExternalAuthoriser } from '../../../src/integration/authoriser.js';
import { VirtualClock } from '../../../src/model/clock.js';
import { CmsSim } from '../../../sim/cloud/cms.js';
import { SimCharger } from '../../../sim/devices/ocpp/charger.js';
import { type Stack, type StackOptions, startStack, waitFor } from './helpers.js';

type Json = Record<string, unknown>;

/** An authoriser scripted per idTag: an answer, `undefined`, `'hang'` (never answers) or `'throw'`. */
function scripted(script: Record<string, AuthoriserAnswer | undefined | 'hang' | 'throw'>) {
  const calls: AuthoriseRequest[] = [];
  const hook = async (req: AuthoriseRequest): Promise<AuthoriserAnswer | undefined> => {
    calls.push(req);
    const a = script[req.idTag];
    if (a === 'hang') return new Promise(() => {});
    if (a === 'throw') throw new Error('payment app exploded');
    return a;
  };
  return { hook, calls };
}

const remote = (status: AuthoriserAnswer['status']): AuthoriserAnswer => ({ status, source: 'remote' });
const ts = (clock: VirtualClock) => new Date(clock.now()).toISOString();
const startTx = (clock: VirtualClock, idTag: string) => ({
  connectorId: 1,
  idTag,
  meterStart: 1000,
  timestamp: ts(clock),
});

describe('OCPP proxy hooks: external authoriser, charger errors, firmware status', () => {
  let stack: Stack | undefined;
  let charger: SimCharger | undefined;
  let ownCms: CmsSim | undefined;
  afterEach(async () => {
    await charger?.stop();
    await stack?.close();
    await ownCms?.stop();
    charger = undefined;
    stack = undefined;
    ownCms = undefined;
  });

  async function boot(
    id: string,
    protocol: 'ocpp1.6' | 'ocpp2.0.1',
    opts: Omit<StackOptions, 'clock'> = {},
    invalidIdTags?: string[],
  ) {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    if (invalidIdTags) {
      ownCms = new CmsSim({ clock, invalidIdTags });
      await ownCms.start();
    }
    stack = await startStack({ clock, chargers: [{ id }], ...opts, ...(ownCms ? { cms: ownCms } : {}) });
    charger = new SimCharger({ id, protocol, url: stack.proxy.url(), clock, meterIntervalMs: 60_000 });
    await charger.start();
    const s = stack;
    const cp = charger;
    // Booted and its first status notifications answered, so a test's own messages come after them.
    await waitFor(() => cp.booted && cp.backlog === 0 && s.proxy.upstreamOnline(id), { what: 'boot' });
    return { ...stack, clock, cp };
  }

  const status16 = (r: Json | undefined) => (r?.idTagInfo as Json | undefined)?.status;
  const status2 = (r: Json | undefined) => (r?.idTokenInfo as Json | undefined)?.status;

  it('1.6, CMS online: a refusal by the authoriser itself wins, otherwise the CMS decides', async () => {
    const auth = scripted({
      'PAY-BLOCK': remote('Blocked'),
      'CMS-NO': remote('Accepted'),
      'FALLBACK-NO': { status: 'Invalid', source: 'fallback' },
      OK: remote('Accepted'),
    });
    const { cms, cp, clock } = await boot('AUT1', 'ocpp1.6', { hooks: { authorise: auth.hook } }, ['CMS-NO']);
    expect(status16(await cp.request('Authorize', { idTag: 'PAY-BLOCK' }))).toBe('Blocked');
    expect(status16(await cp.request('Authorize', { idTag: 'CMS-NO' }))).toBe('Invalid');
    expect(status16(await cp.request('Authorize', { idTag: 'FALLBACK-NO' }))).toBe('Accepted');
    expect(status16(await cp.request('Authorize', { idTag: 'OK' }))).toBe('Accepted');
    // Authorize still reached the CMS every time (the authoriser is asked beside it, not instead of it).
    expect(cms.received('Authorize').map((r) => r.payload.idTag)).toEqual(['PAY-BLOCK', 'CMS-NO', 'FALLBACK-NO', 'OK']);

    const start = await cp.request('StartTransaction', startTx(clock, 'PAY-BLOCK'));
    expect(status16(start)).toBe('Blocked');
    expect(start?.transactionId).toBe([...cms.transactions.keys()][0]);
    expect(auth.calls.at(-1)).toEqual({ idTag: 'PAY-BLOCK', chargerId: 'AUT1', connectorId: 1 });
    // Messages without a token never ask the authoriser.
    const asked = auth.calls.length;
    await cp.request('Heartbeat', {});
    await cp.request('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' });
    expect(auth.calls).toHaveLength(asked);
  });

  it('1.6, CMS down: the authoriser decides; without an answer in time the local list, cache and policy do', async () => {
    const auth = scripted({
      'PAY-OK': remote('Accepted'),
      'PAY-BLOCK': remote('Blocked'),
      'LOCAL-1': undefined,
      UNKNOWN: undefined,
      'SLOW-1': 'hang',
      'THROW-1': 'throw',
    });
    const { cms, cp, clock, proxy } = await boot('AUT2', 'ocpp1.6', {
      ocpp: { unknownIdTags: 'reject', localAuthList: ['LOCAL-1', 'SLOW-1', 'THROW-1'] },
      hooks: { authorise: auth.hook, authoriseTimeoutMs: 3000 },
    });
    await cms.setOutage(true);
    await waitFor(() => !proxy.upstreamOnline('AUT2'), { what: 'upstream down' });
    expect(status16(await cp.request('Authorize', { idTag: 'PAY-OK' }))).toBe('Accepted');
    expect(status16(await cp.request('Authorize', { idTag: 'LOCAL-1' }))).toBe('Accepted');
    expect(status16(await cp.request('Authorize', { idTag: 'UNKNOWN' }))).toBe('Invalid');
    expect(status16(await cp.request('Authorize', { idTag: 'THROW-1' }))).toBe('Accepted');
    // A hung authoriser holds the charger at most authoriseTimeoutMs (virtual clock), then the local list answers.
    let slow: Json | undefined;
    let answered = false;
    void cp.request('Authorize', { idTag: 'SLOW-1' }).then((r) => {
      slow = r;
      answered = true;
    });
    await waitFor(() => auth.calls.some((c) => c.idTag === 'SLOW-1'), { what: 'asked' });
    clock.advance(2000);
    await new Promise((r) => setTimeout(r, 30));
    expect(answered).toBe(false);
    await waitFor(() => answered, { clock, advanceMs: 500, what: 'timeout fallback' });
    expect(status16(slow)).toBe('Accepted');

    const start = await cp.request('StartTransaction', startTx(clock, 'PAY-BLOCK'));
    expect(status16(start)).toBe('Blocked');
    expect(start?.transactionId as number).toBeGreaterThan(1_000_000_000);
  });

  it('2.0.1: Authorize and TransactionEvent with an idToken ask the authoriser, online and offline', async () => {
    const auth = scripted({ 'PAY-BLOCK': remote('Blocked'), 'PAY-OK': remote('Accepted') });
    const { cms, cp, clock, proxy } = await boot('AUT3', 'ocpp2.0.1', {
      ocpp: { unknownIdTags: 'reject' },
      hooks: { authorise: auth.hook },
    });
    const token = (t: string) => ({ idToken: t, type: 'ISO14443' });
    expect(status2(await cp.request('Authorize', { idToken: token('PAY-BLOCK') }))).toBe('Blocked');
    const started = (tx: string, tag: string) => ({
      eventType: 'Started',
      timestamp: ts(clock),
      triggerReason: 'Authorized',
      seqNo: 0,
      transactionInfo: { transactionId: tx },
      idToken: token(tag),
      evse: { id: 1, connectorId: 1 },
    });
    expect(status2(await cp.request('TransactionEvent', started('tx-1', 'PAY-BLOCK')))).toBe('Blocked');
    expect(cms.received('TransactionEvent')).toHaveLength(1);
    expect(auth.calls.at(-1)).toEqual({ idTag: 'PAY-BLOCK', chargerId: 'AUT3', connectorId: 1 });

    await cms.setOutage(true);
    await waitFor(() => !proxy.upstreamOnline('AUT3'), { what: 'upstream down' });
    // unknownIdTags is reject: only the authoriser lets this driver in.
    expect(status2(await cp.request('TransactionEvent', started('tx-2', 'PAY-OK')))).toBe('Accepted');
    expect(status2(await cp.request('Authorize', { idToken: token('NOBODY') }))).toBe('Invalid');
  });

  it('reports charger errors (and their end) and firmware status, 1.6 and 2.0.1; a failing hook changes nothing', async () => {
    const errors: Array<[string, number, string, string | undefined]> = [];
    const firmware: Array<[string, string]> = [];
    const hooks = {
      onChargerError: (c: string, n: number, code: string, info?: string) => {
        errors.push([c, n, code, info]);
        if (code === 'OtherError') throw new Error('alert store down');
      },
      onFirmwareStatus: (c: string, s: string) => firmware.push([c, s]),
    };
    const { cp, cms } = await boot('ERR1', 'ocpp1.6', { hooks });
    // The charger reports its connector after boot, on its own schedule: let that pass first.
    await waitFor(() => errors.some(([id]) => id === 'ERR1'), { what: 'status after boot' });
    errors.length = 0;
    await cp.request('StatusNotification', {
      connectorId: 1,
      errorCode: 'GroundFailure',
      info: 'RCD tripped',
      status: 'Faulted',
    });
    await cp.request('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' });
    const answer = await cp.request('StatusNotification', {
      connectorId: 0,
      errorCode: 'OtherError',
      status: 'Faulted',
    });
    expect(answer).toEqual({});
    expect(await cp.request('FirmwareStatusNotification', { status: 'Installing' })).toEqual({});
    expect(errors).toEqual([
      ['ERR1', 1, 'GroundFailure', 'RCD tripped'],
      ['ERR1', 1, 'NoError', undefined],
      ['ERR1', 0, 'OtherError', undefined],
    ]);
    expect(firmware).toEqual([['ERR1', 'Installing']]);
    expect(cms.received('FirmwareStatusNotification')).toHaveLength(1);
    await charger?.stop();
    await stack?.close();
    charger = undefined;
    stack = undefined;

    const v2 = await boot('ERR2', 'ocpp2.0.1', { hooks });
    await waitFor(() => errors.some(([id]) => id === 'ERR2'), { what: 'status after boot' });
    errors.length = 0;
    firmware.length = 0;
    const at = ts(v2.clock);
    await v2.cp.request('StatusNotification', { timestamp: at, connectorStatus: 'Faulted', evseId: 1, connectorId: 1 });
    await v2.cp.request('StatusNotification', {
      timestamp: at,
      connectorStatus: 'Available',
      evseId: 1,
      connectorId: 1,
    });
    await v2.cp.request('FirmwareStatusNotification', { status: 'Downloaded' });
    expect(errors).toEqual([
      ['ERR2', 1, 'Faulted', undefined],
      ['ERR2', 1, 'NoError', undefined],
    ]);
    expect(firmware).toEqual([['ERR2', 'Downloaded']]);
  });

  it('an open authoriser question leaves no timer behind when the link gives up on it', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    const inFlight = new Set<() => void>();
    const errors: unknown[] = [];
    const ask = (hook: Parameters<typeof askAuthoriser>[0]) =>
      askAuthoriser(
        hook,
        { idTag: 'X', chargerId: 'C' },
        { clock, timeoutMs: 2000, onError: (e) => errors.push(e), inFlight },
      );
    const hung = ask(() => new Promise(() => {}));
    expect(clock.pending()).toBe(1);
    for (const giveUp of [...inFlight]) giveUp();
    expect(await hung).toBeUndefined();
    expect(clock.pending()).toBe(0);
    expect(inFlight.size).toBe(0);
    // An invalid status counts as no answer; a rejection is reported.
    const odd = ask(async () => ({ status: 'Maybe' }) as never);
    expect(await odd).toBeUndefined();
    const failing = ask(async () => Promise.reject(new Error('down')));
    expect(await failing).toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(clock.pending()).toBe(0);
  });

  it('merge rule: keeps the other idTagInfo fields and never turns a CMS refusal into an acceptance', () => {
    const cms = { idTagInfo: { status: 'Accepted', expiryDate: '2026-02-01T00:00:00.000Z', parentIdTag: 'P' } };
    expect(mergeAuthorisation('ocpp1.6', cms, remote('Blocked'), true)).toEqual({
      idTagInfo: { status: 'Blocked', expiryDate: '2026-02-01T00:00:00.000Z', parentIdTag: 'P' },
    });
    const refused = { idTagInfo: { status: 'Invalid' } };
    expect(mergeAuthorisation('ocpp1.6', refused, remote('Accepted'), true)).toBe(refused);
    expect(mergeAuthorisation('ocpp1.6', refused, remote('Blocked'), true)).toBe(refused);
    expect(mergeAuthorisation('ocpp2.1', { idTokenInfo: { status: 'Invalid' } }, remote('Accepted'), false)).toEqual({
      idTokenInfo: { status: 'Accepted' },
    });
    expect(mergeAuthorisation('ocpp2.0.1', {}, undefined, false)).toEqual({});
  });

  it("the hooks take the integration layer's methods as they are (the lead's wiring compiles)", () => {
    const wire = (alerts: AlertService, authoriser: ExternalAuthoriser) =>
      ({
        authorise: (req) => authoriser.authorise(req),
        onChargerError: (c, n, code, info) => alerts.reportChargerError(c, n, code, info),
        onFirmwareStatus: (c, s) => alerts.reportFirmwareStatus(c, s),
      }) satisfies Partial<OcppProxyDeps>;
    expectTypeOf(wire).returns.toExtend<Partial<OcppProxyDeps>>();
  });
});
