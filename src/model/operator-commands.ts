// What the operator set by hand: kept by src/state/operator-commands.ts, read by the
// operator policy; shared through the model so the core never imports a policy.

export interface OperatorEvseCap {
  readonly evseId: string;
  readonly maxCurrentA: number;
  readonly by: string;
  readonly since: number;
}

export interface OperatorBatterySetpoint {
  readonly batteryId: string;
  /** W, + charge, - discharge. */
  readonly powerW: number;
  readonly by: string;
  readonly until: number;
}

export interface OperatorCommandsInput {
  readonly caps: readonly OperatorEvseCap[];
  readonly battery: readonly OperatorBatterySetpoint[];
}
