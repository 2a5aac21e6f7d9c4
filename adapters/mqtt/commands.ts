import { z } from 'zod';

/**
 * Commands accepted on `<prefix>/<site>/<device>/<quantity>/set`. The adapter
 * only validates and hands them over; the composition root decides what a
 * command does (a site limit override is a policy input, a charger's max
 * current a per-EVSE cap), so the adapter never reaches into the control loop.
 * `null` clears an override.
 */
export type MqttCommand =
  | { readonly kind: 'site.limit'; readonly limitW: number | null; readonly durationS?: number }
  | { readonly kind: 'evse.maxCurrent'; readonly evseId: string; readonly currentA: number | null }
  | { readonly kind: 'battery.setpoint'; readonly powerW: number | null };

/** Called for every valid command; a rejection is reported back on `.../set/result`. */
export type MqttCommandHandler = (cmd: MqttCommand) => void | Promise<void>;

/** What the adapter knows about an EVSE to validate a command against it. */
export interface CommandTarget {
  readonly evseId: string;
  readonly maxCurrentA: number;
}

export type ParsedCommand = { ok: true; command: MqttCommand } | { ok: false; error: string };

const nullable = (inner: z.ZodNumber) => inner.nullable();

const SiteLimitSchema = z
  .object({
    limitW: nullable(z.number().finite().nonnegative().max(100_000_000)),
    durationS: z
      .number()
      .int()
      .positive()
      .max(7 * 86_400)
      .optional(),
  })
  .strict();
const MaxCurrentSchema = z.object({ currentA: nullable(z.number().finite().nonnegative()) }).strict();
const BatterySetpointSchema = z
  .object({ powerW: nullable(z.number().finite().min(-10_000_000).max(10_000_000)) })
  .strict();

/** Plain payloads (`7000`, `null`, empty) are shorthand for the command's single field. */
function payloadObject(text: string, field: string): unknown {
  const t = text.trim();
  if (t === '' || t === 'null') return { [field]: null };
  if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(t)) return { [field]: Number(t) };
  return JSON.parse(t);
}

function issues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`).join('; ');
}

/**
 * Parse and validate one command. `device` and `quantity` are the topic
 * segments; `evseBySegment` resolves a topic segment to a known EVSE.
 */
export function parseCommand(
  device: string,
  quantity: string,
  payload: Buffer,
  evseBySegment: (segment: string) => CommandTarget | undefined,
): ParsedCommand {
  const text = payload.toString('utf8');
  try {
    if (device === 'site' && quantity === 'limit') {
      const r = SiteLimitSchema.safeParse(payloadObject(text, 'limitW'));
      if (!r.success) return { ok: false, error: issues(r.error) };
      return { ok: true, command: { kind: 'site.limit', ...r.data } };
    }
    if (device === 'battery' && quantity === 'setpoint') {
      const r = BatterySetpointSchema.safeParse(payloadObject(text, 'powerW'));
      if (!r.success) return { ok: false, error: issues(r.error) };
      return { ok: true, command: { kind: 'battery.setpoint', powerW: r.data.powerW } };
    }
    if (quantity === 'maxCurrent') {
      const target = evseBySegment(device);
      if (!target) return { ok: false, error: `unknown EVSE "${device}"` };
      const r = MaxCurrentSchema.safeParse(payloadObject(text, 'currentA'));
      if (!r.success) return { ok: false, error: issues(r.error) };
      if (r.data.currentA !== null && r.data.currentA > target.maxCurrentA) {
        return { ok: false, error: `currentA: must be <= ${target.maxCurrentA} (EVSE maximum)` };
      }
      return { ok: true, command: { kind: 'evse.maxCurrent', evseId: target.evseId, currentA: r.data.currentA } };
    }
  } catch {
    return { ok: false, error: 'payload is neither a number nor JSON' };
  }
  return { ok: false, error: `no command ${device}/${quantity}` };
}
