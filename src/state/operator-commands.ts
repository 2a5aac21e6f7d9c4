import type { OperatorCommandsInput, OperatorBatterySetpoint, OperatorEvseCap } from '../model/operator-commands.js';
import type { Clock } from '../model/clock.js';

/** Longest a manual battery set-point holds before the policies take over again. */
export const DEFAULT_BATTERY_COMMAND_MS = 3_600_000;

/**
 * What the operator set by hand (per-EVSE current caps, battery
 * set-points), kept in memory and read by the `operator` policy each round.
 * A change notifies the control loop so it applies at once.
 */
export class OperatorCommands {
  private readonly caps = new Map<string, OperatorEvseCap>();
  private readonly battery = new Map<string, OperatorBatterySetpoint>();

  constructor(
    private readonly clock: Clock,
    private readonly onChange: () => void = () => {},
  ) {}

  /** `null` removes the cap. */
  setEvseCap(evseId: string, maxCurrentA: number | null, by: string): void {
    if (maxCurrentA === null) this.caps.delete(evseId);
    else this.caps.set(evseId, { evseId, maxCurrentA, by, since: this.clock.now() });
    this.onChange();
  }

  /** `null` hands the battery back to the policies. */
  setBattery(batteryId: string, powerW: number | null, by: string, durationMs = DEFAULT_BATTERY_COMMAND_MS): void {
    if (powerW === null) this.battery.delete(batteryId);
    else this.battery.set(batteryId, { batteryId, powerW, by, until: this.clock.now() + durationMs });
    this.onChange();
  }

  input(now: number): OperatorCommandsInput {
    for (const [id, b] of this.battery) if (b.until <= now) this.battery.delete(id);
    return { caps: [...this.caps.values()], battery: [...this.battery.values()] };
  }
}
