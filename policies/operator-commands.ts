import type { Decision, Limit, PowerRequest } from '../src/model/decision.js';
import type { OperatorCommandsInput } from '../src/model/operator-commands.js';
import type { SiteSnapshot } from '../src/model/site.js';

export type {
  OperatorBatterySetpoint,
  OperatorCommandsInput,
  OperatorEvseCap,
} from '../src/model/operator-commands.js';

/**
 * Manual commands of the operator (MQTT `/set`, Home Assistant): a current
 * cap on one EVSE and a battery set-point with an expiry. Contract tier: a
 * cap can only tighten what safety and the grid operator allow
 * (most-restrictive-wins), and a battery set-point is a request served
 * before fleet and optimisation requests, inside every limit.
 */
export function decide(_snapshot: SiteSnapshot, input: OperatorCommandsInput, now: number): Decision {
  const limits: Limit[] = input.caps.map((c) => ({
    scope: `evse:${c.evseId}`,
    maxCurrentA: c.maxCurrentA,
    reason: {
      policy: 'operator',
      tier: 'contract',
      text: `operator cap ${c.maxCurrentA} A set by ${c.by} at ${new Date(c.since).toISOString()}`,
    },
  }));
  const requests: PowerRequest[] = input.battery
    .filter((b) => b.until > now)
    .map((b) => ({
      target: `battery:${b.batteryId}`,
      powerW: b.powerW,
      reason: {
        policy: 'operator',
        tier: 'contract',
        text: `operator battery set-point ${b.powerW} W by ${b.by} until ${new Date(b.until).toISOString()}`,
      },
    }));
  return { limits, requests };
}
