import type { GatewayBus } from '../bus/events.js';

/** A V2G EVSE left out of dispatch for a while, and why. */
export interface UnresponsiveV2g {
  readonly evseId: string;
  readonly why: string;
  readonly until: number;
}

interface Asked {
  readonly powerW: number;
  readonly at: number;
}

/**
 * Watches what V2G vehicles do with a discharge set-point: one that the
 * charger confirmed but the vehicle does not follow within `followMs` (its
 * measured power stays above half of the asked feed-in), or whose charger
 * reports SuspendedEV, is left out of dispatch for `holdMs` so the next
 * control round re-plans the target over the others.
 */
export class V2gResponse {
  private readonly asked = new Map<string, Asked>();
  private readonly out = new Map<string, UnresponsiveV2g>();

  constructor(private readonly o: { readonly followMs: number; readonly holdMs: number }) {}

  attach(bus: GatewayBus): () => void {
    const offs = [
      bus.on('setpoint.changed', ({ setpoint, ts }) => {
        if (setpoint.powerW < 0) this.asked.set(setpoint.evseId, { powerW: setpoint.powerW, at: ts });
        else this.asked.delete(setpoint.evseId);
      }),
      bus.on('evse.live', ({ id, patch }) => {
        const asked = this.asked.get(id);
        if (!asked) return;
        if (patch.status === 'SuspendedEV') {
          this.mark(id, 'charger reports SuspendedEV under a discharge set-point', patch.powerW?.ts ?? asked.at);
          return;
        }
        const p = patch.powerW;
        if (!p || p.ts - asked.at < this.o.followMs) return;
        if (p.value > asked.powerW / 2) {
          this.mark(
            id,
            `asked to feed ${kw(-asked.powerW)}, measured ${kw(p.value)} after ${((p.ts - asked.at) / 1000).toFixed(0)} s`,
            p.ts,
          );
        } else this.out.delete(id);
      }),
    ];
    return () => {
      for (const off of offs) off();
    };
  }

  /** EVSEs left out of dispatch at `now`. */
  unresponsive(now: number): UnresponsiveV2g[] {
    for (const [id, u] of this.out) if (u.until <= now) this.out.delete(id);
    return [...this.out.values()];
  }

  private mark(evseId: string, why: string, ts: number): void {
    this.out.set(evseId, { evseId, why, until: ts + this.o.holdMs });
    this.asked.delete(evseId);
  }
}

function kw(w: number): string {
  return `${(w / 1000).toFixed(1)} kW`;
}
