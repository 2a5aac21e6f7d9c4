import { z } from 'zod';
import type { GatewayContext } from '../../context.js';
import { type Setpoint, TIERS } from '../../model/decision.js';
import type { DrawEstimate } from '../../control/draw-estimate.js';
import type { SiteSnapshot } from '../../model/site.js';
import type { MeasuredMargin } from '../../control/margin.js';
import { orNull, percent, watts } from '../../integration/units.js';
import { deviceView } from './device-views.js';
import { evseView, iso } from './evse-views.js';

export const ReasonSchema = z.object({
  policy: z.string(),
  tier: z.enum(TIERS),
  text: z.string(),
});

export const EvseViewSchema = z.object({
  id: z.string(),
  chargerId: z.string(),
  connectorId: z.number().int(),
  protocol: z.string(),
  status: z.string(),
  powerW: z.number().nullable().describe('Measured power, W (+ charging, - V2G); null when unknown'),
  setpointW: z.number().nullable().describe('Power the control loop allows now, W'),
  currentA: z.number().nullable().describe('Per-phase current set-point, A'),
  phases: z.number().int().nullable(),
  reason: z.string().describe('Why the set-point is what it is (binding limit first)'),
  reasons: z.array(ReasonSchema).describe('The whole chain of limits behind the set-point'),
  sessionId: z.string().nullable(),
  idTag: z.string().nullable(),
  sessionEnergyWh: z.number().nullable(),
  sessionStart: z.string().nullable(),
  bidirectional: z.boolean(),
  lastSeen: z.string().nullable(),
  drawEstimate: z
    .object({
      w: z.number().describe('Draw counted in the site balance, W'),
      uncertaintyW: z.number().describe('How far the real draw may be from it, W'),
      source: z.enum(['measured', 'estimated']),
      delayMs: z.number().nullable().describe("The vehicle's learnt response delay, ms; null until seen following"),
      vehiclePhases: z
        .number()
        .int()
        .nullable()
        .describe(
          "Phases the vehicle draws on (1-3), learnt per session from the charger's per-phase currents: its estimate is set-point x these; null until seen",
        ),
    })
    .nullable()
    .describe(
      "What the last control round counted this session as drawing (building load = grid meter − these): its reading, or an estimate from its set-points and learnt delay where the reading does not show the meter's moment",
    ),
});

export const DeviceSchema = z.object({
  id: z.string(),
  protocol: z.string(),
  kind: z.string(),
  online: z.boolean(),
  lastSeen: z.string().nullable(),
  error: z.string().nullable(),
  measures: z
    .object({
      sampleIntervalS: z.number().optional(),
      sampled: z.array(z.string()),
      alignedIntervalS: z.number().optional(),
      perPhaseCurrent: z.boolean(),
      power: z.boolean(),
      outcome: z.string(),
      refused: z.array(z.string()),
      checkedAt: z.string(),
    })
    .nullable()
    .describe("A charger's meter values as configured and read back; null until checked"),
});

export const StateSchema = z.object({
  ts: z.string().describe('ISO 8601 time of the snapshot'),
  siteId: z.string(),
  grid: z.object({ powerW: z.number().nullable(), stale: z.boolean() }),
  pv: z.object({ powerW: z.number().nullable() }),
  battery: z.object({ socPct: z.number().nullable(), powerW: z.number().nullable() }),
  site: z.object({
    limitW: z
      .number()
      .describe("Import limit in force, W: the contract, a grid signal's limit or the operator's override, the lowest"),
    contractLimitW: z.number().describe('Configured site import limit, W'),
    failsafe: z.boolean(),
    reasons: z.array(ReasonSchema),
    override: z
      .object({ limitW: z.number(), until: z.string(), reason: z.string() })
      .nullable()
      .describe('Temporary site-limit override set through the API, if one is in force'),
    margin: z
      .object({
        w: z
          .number()
          .describe(
            'Margin kept below the import limit, W: the configured one, or the measured one when larger and control.policies.loadManagement.measuredMargin is on',
          ),
        floorW: z.number().describe('Configured margin (control.policies.loadManagement.marginW), W'),
        measuredW: z
          .number()
          .nullable()
          .describe('Margin the control loop measured the balance needs, W; null until measured'),
        why: z.string(),
      })
      .describe('Headroom kept below the import limit and why (issue 15: sized from measured response)'),
  }),
  evses: z.array(EvseViewSchema),
  devices: z.array(DeviceSchema),
  stale: z.array(z.string()),
  loop: z.object({ lastRound: z.string().nullable(), rounds: z.number().int() }),
});

export type StateView = z.infer<typeof StateSchema>;

const latest = (a: number | undefined, b: number | undefined) =>
  a === undefined ? b : b === undefined ? a : Math.max(a, b);

/**
 * When each device was last heard from, by any value it sent: an adapter reports a device's status
 * only when it changes, so its own `lastSeen` stops at the last change while readings keep coming.
 */
function lastHeard(s: SiteSnapshot): Map<string, number> {
  const heard = new Map<string, number>();
  const note = (id: string, ts: number | undefined) => {
    const t = latest(heard.get(id), ts);
    if (t !== undefined) heard.set(id, t);
  };
  const walk = (v: unknown) => {
    if (typeof v !== 'object' || v === null) return;
    const r = v as { ts?: unknown; source?: unknown; quality?: unknown };
    if (typeof r.ts === 'number' && typeof r.source === 'string' && typeof r.quality === 'string') {
      note(r.source, r.ts);
      return;
    }
    for (const x of Object.values(v)) walk(x);
  };
  walk([s.grid, s.pv, s.battery, s.batteries ?? {}]);
  // EVSE readings by their known fields (the generic walk per EVSE was most of this at 1000 EVSEs).
  for (const e of s.evses) {
    note(e.chargerId, e.lastSeen);
    if (e.powerW) note(e.powerW.source, e.powerW.ts);
    if (e.currentsA) note(e.currentsA.source, e.currentsA.ts);
  }
  return heard;
}

export interface StateExtras {
  /** When a device not in the process image (a sub-metered load) last sent a reading. */
  readonly heard?: (deviceId: string) => number | undefined;
  readonly override?: () => { limitW: number; until: number; reason: string } | undefined;
}

/** The site as the API shows it: process image + last control round + wanted set-points. */
export function buildState(
  ctx: Pick<GatewayContext, 'state' | 'loop' | 'dispatcher' | 'config'>,
  extras: StateExtras = {},
): StateView {
  return stateParts(ctx, extras, {
    evses: (s, spOf, drawOf) => s.evses.map((e) => evseView(e, spOf(e.id), drawOf(e.id))),
    devices: (list, lastSeenOf) => list.map((d) => deviceView(d, lastSeenOf(d))),
  });
}

/** How the EVSE and device arrays are made: views from scratch (buildState) or kept ones (StateDocument). */
export interface StateArrays {
  readonly evses: (
    s: SiteSnapshot,
    spOf: (id: string) => Setpoint | undefined,
    drawOf: (id: string) => DrawEstimate | undefined,
  ) => StateView['evses'];
  readonly devices: (
    list: SiteSnapshot['devices'],
    lastSeenOf: (d: SiteSnapshot['devices'][number]) => number | undefined,
  ) => StateView['devices'];
}

export function stateParts(
  ctx: Pick<GatewayContext, 'state' | 'loop' | 'dispatcher' | 'config'>,
  extras: StateExtras,
  arrays: StateArrays,
): StateView {
  const o = extras.override?.();
  const s: SiteSnapshot = ctx.state.snapshot();
  const round = ctx.loop.lastRound();
  const siteLimit = round?.limits.find((l) => l.scope === 'site');
  const heard = lastHeard(s);
  const draws = new Map(ctx.loop.draws.estimates().map((d) => [d.evseId, d]));
  // The limit in force: the contract or a grid signal (the last round's site limit), or the operator's
  // override when it is lower (it binds the chargers' budget like load management does).
  const roundLimitW = siteLimit?.maxImportW ?? ctx.config.site.limitW;
  const overrideBinds = o !== undefined && o.limitW < roundLimitW;
  const limitReasons = [
    ...(overrideBinds
      ? [
          {
            policy: 'site-override',
            tier: 'contract' as const,
            text: `operator override ${(o.limitW / 1000).toFixed(1)} kW until ${new Date(o.until).toISOString()} (${o.reason})`,
          },
        ]
      : []),
    ...(siteLimit ? siteLimit.reasons : []),
  ];
  return {
    ts: new Date(s.ts).toISOString(),
    siteId: s.siteId,
    grid: { powerW: orNull(watts, s.grid.powerW?.value), stale: s.stale.includes('grid.powerW') },
    pv: { powerW: orNull(watts, s.pv.powerW?.value) },
    battery: { socPct: orNull(percent, s.battery.socPct?.value), powerW: orNull(watts, s.battery.powerW?.value) },
    site: {
      limitW: watts(overrideBinds ? o.limitW : roundLimitW),
      contractLimitW: ctx.config.site.limitW,
      failsafe: round ? round.stale.includes('grid.powerW') : false,
      reasons: limitReasons,
      override: o ? { limitW: o.limitW, until: new Date(o.until).toISOString(), reason: o.reason } : null,
      margin: marginView(ctx.config.control.policies.loadManagement, ctx.loop.draws.margin()),
    },
    evses: arrays.evses(
      s,
      (id) => ctx.dispatcher.current(id),
      (id) => draws.get(id),
    ),
    devices: arrays.devices(s.devices, (d) => latest(latest(d.lastSeen, heard.get(d.id)), extras.heard?.(d.id))),
    stale: [...s.stale],
    loop: { lastRound: iso(round?.ts), rounds: (ctx.loop as { rounds?: number }).rounds ?? 0 },
  };
}

function marginView(
  lm: { readonly marginW: number; readonly measuredMargin: boolean },
  m: MeasuredMargin | undefined,
): StateView['site']['margin'] {
  const floorW = lm.marginW;
  if (!m) return { w: watts(floorW), floorW, measuredW: null, why: 'configured margin (not measured yet)' };
  const measuredW = watts(m.w);
  if (!lm.measuredMargin)
    return { w: watts(floorW), floorW, measuredW, why: `configured (measured ${measuredW} W, not used: ${m.why})` };
  return measuredW > floorW
    ? { w: measuredW, floorW, measuredW, why: `measured: ${m.why}` }
    : { w: watts(floorW), floorW, measuredW, why: `configured floor (measured ${measuredW} W: ${m.why})` };
}
