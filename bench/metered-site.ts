/**
 * The site both the reaction and the grid-signal benches run: N OCPP 1.6J
 * chargers of the peer process behind an Eastron SDM630 grid meter served by
 * the meter peer, and what the chargers peer reports after a step. One place,
 * so the two benches measure the same site.
 */
export const BASE_W = 10_000;
export const VOLTS_3P = 690;
export const MARGIN_W = 500;

/** What the chargers peer reports for one step (its `collect` answer). */
export interface StepResult {
  readonly deliveries: number[];
  readonly expected: number;
  readonly heartbeats: number[];
  readonly missing: number;
  readonly cutTo: string;
}

export interface MeteredSiteOptions {
  readonly id: string;
  readonly chargers: number;
  readonly meterPort: number;
  readonly pollMs: number;
  readonly limitW: number;
  /** The site file's `control` section (default: load management with the benches' margin). */
  readonly control?: Record<string, unknown>;
}

/** A site file (as an object) for `gridkeeper run`: the chargers, the grid meter, load management with the margin. */
export function meteredSite(o: MeteredSiteOptions): Record<string, unknown> {
  return {
    site: { id: o.id, limitW: o.limitW, failsafeLimitW: o.chargers * 6 * VOLTS_3P },
    chargers: Array.from({ length: o.chargers }, (_, i) => ({ id: `CP${i}` })),
    modbus: {
      devices: [
        {
          id: 'grid-meter',
          role: 'grid',
          profile: 'eastron-sdm630',
          sunspec: false,
          host: '127.0.0.1',
          port: o.meterPort,
          unitId: 1,
          pollMs: o.pollMs,
          timeoutMs: 500,
        },
      ],
    },
    ocpp: { securityProfile: 0, unknownChargers: 'reject' },
    control: o.control ?? { policies: { loadManagement: { marginW: MARGIN_W } } },
  };
}
