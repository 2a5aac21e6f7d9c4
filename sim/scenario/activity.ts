/**
 * Counts messages the simulated peers handle. The scenario harness lets the
 * loopback sockets settle after every clock step until this count stops
 * moving: the sim, not the gateway, says when the wire is quiet.
 */
export class Activity {
  private n = 0;
  private readonly sources: Array<() => number> = [];

  bump(): void {
    this.n++;
  }

  /** Another counter that grows with traffic (e.g. messages a charger received). */
  watch(source: () => number): void {
    this.sources.push(source);
  }

  get count(): number {
    let total = this.n;
    for (const s of this.sources) total += s();
    return total;
  }
}
