import { describe, expect, it } from 'vitest';
import { reading } from '../../src/model/reading.js';
import { testCore } from '../helpers/core.js';
import { evseSpec } from '../helpers/evse.js';

const spec = (id: string) => evseSpec(id);

describe('EVSEs in the process image', () => {
  it('each is its spec and its live values merged, frozen, and a snapshot is not changed by later values', () => {
    const core = testCore();
    core.state.start();
    core.bus.emit('evse.spec', spec('CP1/1'));
    core.bus.emit('evse.spec', spec('CP2/1'));
    core.bus.emit('evse.live', { id: 'CP1/1', patch: { status: 'Charging', sessionId: 'tx1', sessionStart: 5 } });
    const s1 = core.state.snapshot();
    expect(s1.evses.map((e) => e.id)).toEqual(['CP1/1', 'CP2/1']);
    expect(s1.evses[0]).toEqual({ ...spec('CP1/1'), status: 'Charging', sessionId: 'tx1', sessionStart: 5 });
    expect(s1.evses[1]).toEqual({ ...spec('CP2/1'), status: 'Offline' });
    for (const e of s1.evses) expect(Object.isFrozen(e)).toBe(true);
    expect(Object.isFrozen(s1.evses)).toBe(true);
    // A later reading (and the end of the session) makes new objects; the first snapshot keeps its own.
    core.bus.emit('evse.live', { id: 'CP1/1', patch: { powerW: reading(7000, 10, 'CP1') } });
    core.bus.emit('evse.live', { id: 'CP1/1', patch: { status: 'Available', sessionId: undefined } });
    const s2 = core.state.snapshot();
    expect(s1.evses[0]?.powerW).toBeUndefined();
    expect(s1.evses[0]?.status).toBe('Charging');
    expect(s2.evses[0]).toMatchObject({ status: 'Available', sessionId: undefined, powerW: { value: 7000 } });
    // An EVSE that did not change is the same object in both (rebuilt only when it changes).
    expect(s2.evses[1]).toBe(s1.evses[1]);
    core.state.stop();
    core.db.close();
  });
});
