import { afterEach, describe, expect, it } from 'vitest';
import { buildState } from '../../src/api/routes/state.js';
import { reading } from '../../src/model/reading.js';
import { ADMIN_KEY, type ApiFixture, apiFixture, auth, evseSpec } from './fixture.js';

/**
 * `GET /api/v1/state` is served as bytes built from per-EVSE and per-device parts kept between
 * requests (src/api/routes/state-document.ts). Whatever changes (a reading, the wanted set-point, an
 * EVSE's status, a device), the document must be the one `buildState` makes from scratch at that
 * moment, and its ETag must change with it.
 */
describe('GET /api/v1/state from kept EVSE views', () => {
  let f: ApiFixture | undefined;
  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  it('equals buildState after every kind of change, and never shows a part that went out of date', async () => {
    f = await apiFixture({ overrides: { site: { id: 'test', limitW: 30_000, failsafeLimitW: 4_000 } } });
    const { core } = f;
    const get = async () => {
      const res = await f!.api.app.inject({ method: 'GET', url: '/api/v1/state', headers: auth(ADMIN_KEY) });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      return res.json();
    };
    const fresh = () => JSON.parse(JSON.stringify(buildState(core, {})));
    const clock = core.vclock!;
    const ids = ['CP01', 'CP02', 'CP03'];
    for (const id of ids) {
      core.bus.emit('evse.spec', evseSpec(id));
      core.bus.emit('device', { id, protocol: 'ocpp', kind: 'charger', online: true, lastSeen: clock.now() });
    }
    core.bus.emit('grid', { powerW: reading(5000, clock.now(), 'meter') });
    expect(await get()).toEqual(fresh());

    // Sessions start: status, readings and set-points change.
    clock.advance(1000);
    for (const [i, id] of ids.entries())
      core.bus.emit('evse.live', {
        id: `${id}/1`,
        patch: {
          status: 'Charging',
          powerW: reading(3000 + i, clock.now(), id),
          sessionId: `s${i}`,
          lastSeen: clock.now(),
        },
      });
    core.bus.emit('grid', { powerW: reading(14_000, clock.now(), 'meter') });
    core.loop.runRound('manual');
    const first = await get();
    expect(first).toEqual(fresh());
    expect(
      first.evses.map((e: { setpointW: number | null }) => e.setpointW).every((w: number | null) => w !== null),
    ).toBe(true);

    // The site limit drops: every set-point and its reason change, the EVSE objects do not.
    clock.advance(1000);
    core.bus.emit('grid', { powerW: reading(29_000, clock.now(), 'meter') });
    core.loop.runRound('manual');
    const cut = await get();
    expect(cut).toEqual(fresh());
    expect(cut.evses[0].setpointW).not.toBe(first.evses[0].setpointW);

    // One EVSE changes alone; a repeat request with nothing changed is the same document.
    clock.advance(1000);
    core.bus.emit('evse.live', { id: 'CP02/1', patch: { status: 'SuspendedEV', lastSeen: clock.now() } });
    const one = await get();
    expect(one).toEqual(fresh());
    expect(one.evses[1].status).toBe('SuspendedEV');
    expect(await get()).toEqual(one);

    // A device goes offline, then is heard from again through its EVSE's reading only.
    clock.advance(1000);
    core.bus.emit('device', { id: 'CP03', protocol: 'ocpp', kind: 'charger', online: false, lastSeen: clock.now() });
    const offline = await get();
    expect(offline).toEqual(fresh());
    expect(offline.devices.find((d: { id: string }) => d.id === 'CP03').online).toBe(false);
    clock.advance(1000);
    core.bus.emit('evse.live', { id: 'CP01/1', patch: { powerW: reading(2500, clock.now(), 'CP01') } });
    const heard = await get();
    expect(heard).toEqual(fresh());
    expect(heard.devices[0].lastSeen).toBe(new Date(clock.now()).toISOString());
  });

  it('answers 304 to the ETag of an unchanged state, 200 with a new ETag once anything but ts changed', async () => {
    f = await apiFixture({ overrides: { site: { id: 'test', limitW: 30_000, failsafeLimitW: 4_000 } } });
    const { core } = f;
    const clock = core.vclock!;
    core.bus.emit('evse.spec', evseSpec('CP01'));
    core.bus.emit('grid', { powerW: reading(5000, clock.now(), 'meter') });
    clock.advance(100); // the control round these start
    const get = (ifNoneMatch?: string) =>
      f!.api.app.inject({
        method: 'GET',
        url: '/api/v1/state',
        headers: { ...auth(ADMIN_KEY), ...(ifNoneMatch ? { 'if-none-match': ifNoneMatch } : {}) },
      });
    const first = await get();
    expect(first.statusCode).toBe(200);
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^W\/"[^"]+"$/);

    // Only the snapshot's time moves: the client's copy is current.
    clock.advance(10);
    for (const form of [etag, etag.slice(2), `"other", ${etag}`, '*']) {
      const same = await get(form);
      expect(same.statusCode, form).toBe(304);
      expect(same.body).toBe('');
      expect(same.headers.etag).toBe(etag);
    }
    expect((await get('W/"other"')).statusCode).toBe(200);

    // A new reading: the old tag no longer matches, the new document has a new tag.
    core.bus.emit('grid', { powerW: reading(7000, clock.now(), 'meter') });
    const changed = await get(etag);
    expect(changed.statusCode).toBe(200);
    expect(changed.json().grid.powerW).toBe(7000);
    expect(changed.headers.etag).not.toBe(etag);
    expect((await get(String(changed.headers.etag))).statusCode).toBe(304);

    // An EVSE alone changes, then a device alone (the rest of the document as before).
    core.bus.emit('evse.live', { id: 'CP01/1', patch: { status: 'Preparing' } });
    const evse = await get(String(changed.headers.etag));
    expect(evse.statusCode).toBe(200);
    expect(evse.json().evses[0].status).toBe('Preparing');
    core.bus.emit('device', { id: 'CP01', protocol: 'ocpp', kind: 'charger', online: true, lastSeen: clock.now() });
    const device = await get(String(evse.headers.etag));
    expect(device.statusCode).toBe(200);
    expect(device.json()).toEqual(JSON.parse(JSON.stringify(buildState(core, {}))));
    expect(device.json().devices.map((d: { id: string }) => d.id)).toEqual(['CP01']);
  });

  it('sends the whole document with its length over a real socket, and 304 there too', async () => {
    f = await apiFixture({ overrides: { site: { id: 'test', limitW: 30_000, failsafeLimitW: 4_000 } } });
    const { core } = f;
    for (const id of ['CP01', 'CP02']) {
      core.bus.emit('evse.spec', evseSpec(id));
      core.bus.emit('device', { id, protocol: 'ocpp', kind: 'charger', online: true, lastSeen: core.clock.now() });
    }
    await f.api.start();
    const res = await fetch(`${f.api.url()}/api/v1/state`, { headers: auth(ADMIN_KEY) });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(res.headers.get('transfer-encoding')).toBeNull();
    expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(text));
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(buildState(core, {}))));
    const etag = res.headers.get('etag') as string;
    const again = await fetch(`${f.api.url()}/api/v1/state`, {
      headers: { ...auth(ADMIN_KEY), 'if-none-match': etag },
    });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
  });
});
