import { describe, expect, it } from 'vitest';
import { createGatewayBus } from '../../src/bus/events.js';
import { OtherLoadEstimator } from '../../src/grid/other-load.js';
import { reading } from '../../src/model/reading.js';

describe('OtherLoadEstimator', () => {
  it('takes each charger at its draw when the meter sampled, not a newer report the meter has not seen', () => {
    const bus = createGatewayBus();
    const est = new OtherLoadEstimator({ staleAfterMs: 10_000, countBattery: false });
    const off = est.attach(bus);
    bus.emit('evse.live', { id: 'CP1/1', patch: { powerW: reading(22_000, 1000, 'CP1') } });
    bus.emit('grid', { powerW: reading(32_000, 1500, 'meter') });
    expect(est.value(1500)).toBe(10_000);
    // The charger reports its decrease before the meter's next poll shows it.
    bus.emit('evse.live', { id: 'CP1/1', patch: { powerW: reading(4_000, 2000, 'CP1') } });
    bus.emit('grid', { powerW: reading(32_000, 1900, 'meter') });
    expect(est.value(2000)).toBe(10_000);
    bus.emit('grid', { powerW: reading(14_000, 2100, 'meter') });
    expect(est.value(2100)).toBe(10_000);
    // Stale meter: no estimate.
    expect(est.value(20_000)).toBeUndefined();
    off();
  });

  it('counts the battery as a known load only when it is controllable', () => {
    const bus = createGatewayBus();
    const est = new OtherLoadEstimator({ staleAfterMs: 10_000, countBattery: true });
    est.attach(bus);
    bus.emit('battery', { powerW: reading(-5_000, 1000, 'bat') });
    bus.emit('grid', { powerW: reading(5_000, 1200, 'meter') });
    expect(est.value(1200)).toBe(10_000);
  });
});
