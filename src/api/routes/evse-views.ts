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
  readonly bytes: Buffer;
}

/**
 * Each EVSE's view as UTF-8 JSON, kept while what it is made of is unchanged: the process image
 * replaces an EVSE's (frozen) object only when the EVSE changes, while every control round makes
 * new set-point and estimate objects, mostly equal to the last ones, so those are compared by value.
 * Bytes, not text: at 1000 EVSEs the array is ~1 MB, and joining and encoding it again per request
 * (plus the socket's own encoding of a string) was most of the request's time.
 */
export class EvseViewCache {
  private readonly entries = new Map<string, Entry>();
  private last: { parts: Buffer[]; bytes: Buffer } | undefined;

  /** The EVSEs' views as a JSON array, in their order; the same Buffer while none of them changed. */
  bytes(
    evses: readonly EvseState[],
    spOf: (id: string) => Setpoint | undefined,
    drawOf: (id: string) => DrawEstimate | undefined,
  ): Buffer {
    const parts: Buffer[] = new Array(evses.length);
    for (let i = 0; i < evses.length; i++) {
      const e = evses[i] as EvseState;
      const sp = spOf(e.id);
      const draw = drawOf(e.id);
      const old = this.entries.get(e.id);
      if (old && old.e === e && sameSetpoint(old.sp, sp) && sameDraw(old.draw, draw)) {
        parts[i] = old.bytes;
        continue;
      }
      const bytes = Buffer.from(JSON.stringify(evseView(e, sp, draw)));
      this.entries.set(e.id, { e, sp, draw, bytes });
      parts[i] = bytes;
    }
    // EVSEs removed from the site (a reconfigured charger) are not kept for ever.
    if (this.entries.size > evses.length * 2) this.entries.clear();
    if (this.last && sameParts(this.last.parts, parts)) return this.last.bytes;
    this.last = { parts, bytes: jsonArray(parts) };
    return this.last.bytes;
  }
}

/** The same Buffers in the same order. */
export function sameParts(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

/** `[p0,p1,...]` from each element's JSON bytes. */
export function jsonArray(parts: readonly Buffer[]): Buffer {
  const list: Buffer[] = [OPEN];
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) list.push(COMMA);
    list.push(parts[i] as Buffer);
  }
  list.push(CLOSE);
  return Buffer.concat(list);
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
