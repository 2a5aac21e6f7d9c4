import type { GatewayBus } from '../bus/events.js';
import type { Reading } from '../model/reading.js';

interface Sample {
  readonly ts: number;
  readonly value: number;
}

const KEEP = 8;

/**
 * The load the gateway does not control, as the grid meter saw it: grid
 * power less each charger's (and the controllable battery's) draw *at the
 * time of the meter sample*. A charger reports its new draw before the next
 * meter poll shows it; subtracting that newer value from the older meter
 * reading would show the other load jump by the whole change for one round
 * and cut every charger to nothing (then hold them off for the minimum off
 * time). Each device's value is the one in force when the meter sampled.
 */
export class OtherLoadEstimator {
  private readonly evses = new Map<string, Sample[]>();
  private battery: Sample[] = [];
  private last: { ts: number; otherW: number } | undefined;

  constructor(private readonly o: { readonly staleAfterMs: number; readonly countBattery: boolean }) {}

  attach(bus: GatewayBus): () => void {
    const offs = [
      bus.on('evse.live', (e) => e.patch.powerW && this.push(this.list(e.id), e.patch.powerW)),
      bus.on('battery', (b) => {
        if (b.powerW) this.push(this.battery, b.powerW);
      }),
      bus.on('grid', (g) => g.powerW && this.onGrid(g.powerW)),
    ];
    return () => {
      for (const off of offs) off();
    };
  }

  /** Other load at the last meter sample, W (undefined without one, or when it is stale at `now`). */
  value(now: number): number | undefined {
    if (!this.last || now - this.last.ts > this.o.staleAfterMs) return undefined;
    return this.last.otherW;
  }

  onGrid(g: Reading<number>): void {
    let known = 0;
    for (const list of this.evses.values()) known += this.at(list, g.ts);
    if (this.o.countBattery) known += this.at(this.battery, g.ts);
    this.last = { ts: g.ts, otherW: g.value - known };
  }

  private at(list: readonly Sample[], ts: number): number {
    let v: Sample | undefined;
    for (const s of list) if (s.ts <= ts) v = s;
    // Nothing as old as the meter sample: the oldest we know is the best guess of what the meter saw.
    v ??= list[0];
    if (!v || ts - v.ts > this.o.staleAfterMs) return 0;
    return v.value;
  }

  private list(id: string): Sample[] {
    let l = this.evses.get(id);
    if (!l) {
      l = [];
      this.evses.set(id, l);
    }
    return l;
  }

  private push(list: Sample[], r: Reading<number>): void {
    list.push({ ts: r.ts, value: r.value });
    list.sort((a, b) => a.ts - b.ts);
    if (list.length > KEEP) list.splice(0, list.length - KEEP);
  }
}
