import { describe, expect, it } from 'vitest';
import { FleetInputs, knownImportLimits } from '../../src/cli/fleet-inputs.js';
import type { Integration } from '../../src/integration/index.js';
import type { GridSignal } from '../../src/model/grid.js';

const NOW = Date.UTC(2026, 0, 5, 15);
const clock = { now: () => NOW } as unknown as ConstructorParameters<typeof FleetInputs>[0];

function signal(kind: GridSignal['kind'], start: number, end: number, value: number): GridSignal {
  return { kind, value, source: 'openadr', eventId: `${kind}-${start}`, start, end, receivedAt: NOW - 1000 };
}

describe('fleet inputs', () => {
  it('import limits active or announced are planning windows; ended ones and other kinds are not', () => {
    const h = 3_600_000;
    const windows = knownImportLimits(
      [
        signal('importLimit', NOW + 2 * h, NOW + 3 * h, 60_000),
        signal('importLimit', NOW - h, NOW + h, 80_000),
        signal('importLimit', NOW - 2 * h, NOW - h, 10_000),
        signal('exportLimit', NOW + h, NOW + 2 * h, 0),
        signal('price', NOW, NOW + h, 0.3),
      ],
      NOW,
    );
    expect(windows).toEqual([
      { start: NOW + 2 * h, end: NOW + 3 * h, importLimitW: 60_000 },
      { start: NOW - h, end: NOW + h, importLimitW: 80_000 },
    ]);
  });

  it("passes the vehicle's phases from the fleet tool to the deadline planning", () => {
    const fleet = new FleetInputs(clock);
    const integration = {
      vehicles: {
        needs: () => [{ vehicleId: 'van-2', idTags: ['T2'], departureAt: NOW + 6 * 3_600_000, energyNeededWh: 20_000 }],
        get: (id: string) => (id === 'van-2' ? { id, idTags: ['T2'], phases: 1, updatedAt: NOW } : undefined),
      },
    } as unknown as Integration;
    fleet.attach(integration);
    expect(fleet.apiNeeds(NOW)).toEqual([
      { vehicleId: 'van-2', idTag: 'T2', departureAt: NOW + 6 * 3_600_000, energyWh: 20_000, phases: 1 },
    ]);
  });
});
