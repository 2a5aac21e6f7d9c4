import type { DeviceStatus } from '../../model/site.js';
import { iso, jsonArray, sameParts } from './evse-views.js';
import type { StateView } from './state.js';

type DeviceView = StateView['devices'][number];

/** One device as `/api/v1/state` and `/api/v1/devices` show it; `lastSeenMs` is when it was last heard from by any value. */
export function deviceView(d: DeviceStatus, lastSeenMs: number | undefined): DeviceView {
  return {
    id: d.id,
    protocol: d.protocol,
    kind: d.kind,
    online: d.online,
    lastSeen: iso(lastSeenMs),
    error: d.error ?? null,
    measures: d.measures
      ? {
          ...d.measures,
          sampled: [...d.measures.sampled],
          refused: [...d.measures.refused],
          checkedAt: new Date(d.measures.checkedAt).toISOString(),
        }
      : null,
  };
}

interface Entry {
  readonly d: DeviceStatus;
  readonly lastSeenMs: number | undefined;
  readonly bytes: Buffer;
}

/**
 * Each device's view as UTF-8 JSON, kept while the device's (frozen) status object and the time it
 * was last heard from are unchanged: at 1000 chargers the devices are a quarter of `/api/v1/state`.
 */
export class DeviceViewCache {
  private readonly entries = new Map<string, Entry>();
  private last: { parts: Buffer[]; bytes: Buffer } | undefined;

  /** The devices' views as a JSON array, in their order; the same Buffer while none of them changed. */
  bytes(devices: readonly DeviceStatus[], lastSeenOf: (d: DeviceStatus) => number | undefined): Buffer {
    const parts: Buffer[] = new Array(devices.length);
    for (let i = 0; i < devices.length; i++) {
      const d = devices[i] as DeviceStatus;
      const lastSeenMs = lastSeenOf(d);
      const old = this.entries.get(d.id);
      if (old && old.d === d && old.lastSeenMs === lastSeenMs) {
        parts[i] = old.bytes;
        continue;
      }
      const bytes = Buffer.from(JSON.stringify(deviceView(d, lastSeenMs)));
      this.entries.set(d.id, { d, lastSeenMs, bytes });
      parts[i] = bytes;
    }
    if (this.entries.size > devices.length * 2) this.entries.clear();
    if (this.last && sameParts(this.last.parts, parts)) return this.last.bytes;
    this.last = { parts, bytes: jsonArray(parts) };
    return this.last.bytes;
  }
}
