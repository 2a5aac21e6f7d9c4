import { describe, expect, it } from 'vitest';
import { createGatewayBus } from '../../src/bus/events.js';
import { CmsLimits } from '../../src/control/cms-limits.js';

describe('CmsLimits', () => {
  it('asks for a round when a CMS cap is set, changed or lifted, not when it is repeated', () => {
    const bus = createGatewayBus();
    const cms = new CmsLimits();
    let rounds = 0;
    cms.attach(bus, () => rounds++);
    bus.emit('cms.limit', { chargerId: 'CP1', capA: 9.3, ts: 1, what: 'ChargePointMaxProfile' });
    expect(rounds).toBe(1);
    bus.emit('cms.limit', { chargerId: 'CP1', capA: 9.3, ts: 2, what: 'ChargePointMaxProfile' });
    expect(rounds).toBe(1);
    bus.emit('cms.limit', { chargerId: 'CP1', capA: 12, ts: 3, what: 'ChargePointMaxProfile' });
    expect(rounds).toBe(2);
    bus.emit('cms.limit', { chargerId: 'CP1', ts: 4, what: 'cleared' });
    expect(rounds).toBe(3);
  });
});
