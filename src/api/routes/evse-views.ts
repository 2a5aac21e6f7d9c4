import type { DrawEstimate } from '../../control/draw-estimate.js';
import { type Reason, type Setpoint, summariseReasons } from '../../model/decision.js';
import type { EvseState } from '../../model/site.js';
import { amps, orNull, watts } from '../../integration/units.js';
import type { StateView } from './state.js';

type EvseView = StateView['evses'][number];

/** A time in the API: ISO 8601, null when unknown. */
export const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** One EVSE as `/api/v1/state` and `/api/v1/evses` show it: its state, the set-point the loop wants and why, its draw estimate. */
export function evseView(e: EvseState, sp: Setpoint | undefined, draw: DrawEstimate | undefined): EvseView {
  return {
    id: e.id,
    chargerId: e.chargerId,
    connectorId: e.connectorId,
    protocol: e.protocol,
    status: e.status,
    powerW: orNull(watts, e.powerW?.value),
    setpointW: orNull(watts, sp?.powerW),
    currentA: orNull(amps, sp?.currentA),
    phases: sp ? sp.phases : null,
    reason: sp ? summariseReasons(sp.reasons) : 'no set-point yet',
    reasons: sp ? [...sp.reasons] : [],
    sessionId: e.sessionId ?? null,
    idTag: e.idTag ?? null,
    sessionEnergyWh: orNull(watts, e.sessionEnergyWh),
    sessionStart: iso(e.sessionStart),
    bidirectional: e.bidirectional,
    lastSeen: iso(e.lastSeen),
    drawEstimate: drawView(draw),
  };
}

function drawView(d: DrawEstimate | undefined): EvseView['drawEstimate'] {
  if (!d) return null;
  return {
    w: watts(d.w),
    uncertaintyW: watts(d.uncertaintyW),
    source: d.source,
    delayMs: d.delayMs ?? null,
    vehiclePhases: d.vehiclePhases ?? null,
  };
}

interface Entry {
  readonly e: EvseState;
  readonly sp: Setpoint | undefined;
  readonly draw: DrawEstimate | undefined;
  readonly json: string;
}

/**
 * Each EVSE's view as JSON text, kept while what it is made of is unchanged: the process image
 * replaces an EVSE's (frozen) object only when the EVSE changes, while every control round makes
 * new set-point and estimate objects, mostly equal to the last ones, so those are compared by value.
 */
export class EvseViewCache {
  private readonly entries = new Map<string, Entry>();

  /** The EVSEs' views as a JSON array, in their order. */
  json(
    evses: readonly EvseState[],
    spOf: (id: string) => Setpoint | undefined,
    drawOf: (id: string) => DrawEstimate | undefined,
  ): string {
    const parts: string[] = new Array(evses.length);
    for (let i = 0; i < evses.length; i++) {
      const e = evses[i] as EvseState;
      const sp = spOf(e.id);
      const draw = drawOf(e.id);
      const old = this.entries.get(e.id);
      if (old && old.e === e && sameSetpoint(old.sp, sp) && sameDraw(old.draw, draw)) {
        parts[i] = old.json;
        continue;
      }
      const json = JSON.stringify(evseView(e, sp, draw));
      this.entries.set(e.id, { e, sp, draw, json });
      parts[i] = json;
    }
    // EVSEs removed from the site (a reconfigured charger) are not kept for ever.
    if (this.entries.size > evses.length * 2) this.entries.clear();
    return `[${parts.join(',')}]`;
  }
}

function sameSetpoint(a: Setpoint | undefined, b: Setpoint | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return (
    a.currentA === b.currentA && a.powerW === b.powerW && a.phases === b.phases && sameReasons(a.reasons, b.reasons)
  );
}

function sameReasons(a: readonly Reason[], b: readonly Reason[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as Reason;
    const y = b[i] as Reason;
    if (x.policy !== y.policy || x.tier !== y.tier || x.text !== y.text || x.transient !== y.transient) return false;
  }
  return true;
}

function sameDraw(a: DrawEstimate | undefined, b: DrawEstimate | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return (
    a.w === b.w &&
    a.uncertaintyW === b.uncertaintyW &&
    a.source === b.source &&
    a.delayMs === b.delayMs &&
    a.vehiclePhases === b.vehiclePhases
  );
}
