import { afterEach, describe, expect, it } from 'vitest';
import { buildState } from '../../src/api/routes/state.js';
import { reading } from '../../src/model/reading.js';
import { ADMIN_KEY, type ApiFixture, apiFixture, auth, evseSpec } from './fixture.js';

/**
 * `GET /api/v1/state` is served as text built from per-EVSE parts kept between requests
 * (src/api/routes/evse-views.ts). Whatever changes (a reading, the wanted set-point, an EVSE's
 * status), the document must be the one `buildState` makes from scratch at that moment.
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
  });
});
