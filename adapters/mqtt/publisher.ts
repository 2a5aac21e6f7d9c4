import type { GatewayEvents } from '../../src/model/events.js';
import { summariseReasons } from '../../src/model/decision.js';
import type { Reading } from '../../src/model/reading.js';
import type { EvseSpec, PhaseValues } from '../../src/model/site.js';
import type { GatewayBusPort } from '../../src/ports/bus.js';
import type { MqttConfig } from '../../src/ports/config.js';
import { type DiscoveryContext, numberDiscovery, sensorDiscovery } from './discovery.js';
import { topicSegment } from './topics.js';

export interface StatePublisherOptions {
  readonly cfg: MqttConfig;
  /** `<topicPrefix>/<site>`. */
  readonly base: string;
  readonly discovery: DiscoveryContext;
  /** Sends now if connected; drops otherwise (the caches re-send after a reconnect). */
  readonly send: (topic: string, payload: string, retain: boolean) => void;
}

/**
 * The outbound half of the MQTT adapter: site state from the bus to
 * `<prefix>/<site>/<device>/<quantity>`, Home Assistant discovery beside it,
 * deduplicated through caches that are re-sent after every reconnect.
 */
export class StatePublisher {
  /** Last payload per state topic: deduplicates and is re-sent after a reconnect. */
  private readonly stateCache = new Map<string, string>();
  private readonly discoveryCache = new Map<string, string>();
  private readonly evseBySegment = new Map<string, EvseSpec>();

  constructor(private readonly o: StatePublisherOptions) {}

  /** EVSEs by topic segment, for `/set` commands. */
  get evses(): ReadonlyMap<string, EvseSpec> {
    return this.evseBySegment;
  }

  /** Publish what the bus reports; returns the unsubscribe functions. */
  follow(bus: GatewayBusPort): Array<() => void> {
    const subs: Array<() => void> = [];
    const on = <K extends keyof GatewayEvents>(event: K, h: (p: GatewayEvents[K]) => void) =>
      subs.push(bus.on(event, h));
    const readings = (device: string, r: Record<string, Reading<number> | Reading<PhaseValues> | undefined>) => {
      for (const [quantity, value] of Object.entries(r)) this.publishReading(device, quantity, value);
    };
    on('grid', (p) => readings('grid', pick(p, ['powerW', 'currentsA', 'importEnergyWh', 'exportEnergyWh'])));
    on('pv', (p) => readings('pv', pick(p, ['powerW', 'energyWh'])));
    on('battery', (p) =>
      readings(
        'battery',
        pick(p, [
          'powerW',
          'socPct',
          'sohPct',
          'cellTempMinC',
          'cellTempMaxC',
          'maxChargePowerW',
          'maxDischargePowerW',
          'alarms',
        ]),
      ),
    );
    on('load', (p) => readings(topicSegment(p.id), { powerW: p.powerW, energyWh: p.energyWh }));
    on('evse.spec', (spec) => this.onEvseSpec(spec));
    on('evse.live', ({ id, patch }) => {
      const seg = topicSegment(id);
      if (patch.status !== undefined) this.publishState(seg, 'status', patch.status);
      readings(seg, { powerW: patch.powerW, currentsA: patch.currentsA });
      if (patch.sessionEnergyWh !== undefined)
        this.publishState(seg, 'sessionEnergyWh', String(round(patch.sessionEnergyWh)));
    });
    on('setpoint.changed', ({ setpoint, ts }) => {
      this.publishState(topicSegment(setpoint.evseId), 'setpoint', {
        currentA: round(setpoint.currentA),
        powerW: round(setpoint.powerW),
        phases: setpoint.phases,
        reason: summariseReasons(setpoint.reasons),
        reasons: setpoint.reasons,
        ts,
      });
    });
    on('device', (d) => {
      const seg = topicSegment(d.id);
      this.publishState(seg, 'online', d.online ? 'ON' : 'OFF');
      this.publishState(seg, 'device', {
        protocol: d.protocol,
        kind: d.kind,
        online: d.online,
        lastSeen: d.lastSeen,
        error: d.error,
      });
    });
    on('failsafe', (f) => this.publishState('site', 'failsafe', { active: f.active, reason: f.reason, ts: f.ts }));
    return subs;
  }

  /** Home Assistant controls for the site-wide commands. */
  announceCommands(): void {
    if (!this.o.cfg.commands) return;
    const d = numberDiscovery(this.o.discovery, 'site', 'limit', `${this.o.base}/site/limit/set`, {
      name: 'Site limit override',
      unit: 'W',
      min: 0,
      max: 10_000_000,
      step: 100,
    });
    this.publishDiscovery(d.topic, d.config);
  }

  /** After every (re)connect the broker may have lost everything: send availability, discovery and state again. */
  republishAll(): void {
    this.o.send(this.o.discovery.availabilityTopic, 'online', true);
    for (const [topic, payload] of this.discoveryCache) this.o.send(topic, payload, true);
    for (const [topic, payload] of this.stateCache) this.o.send(topic, payload, this.o.cfg.retain);
  }

  clear(): void {
    this.stateCache.clear();
    this.discoveryCache.clear();
  }

  private publishDiscovery(topic: string, config: Record<string, unknown>): void {
    if (!this.o.cfg.discovery.enabled || this.discoveryCache.has(topic)) return;
    const payload = JSON.stringify(config);
    this.discoveryCache.set(topic, payload);
    this.o.send(topic, payload, true);
  }

  private publishState(device: string, quantity: string, value: unknown): void {
    const topic = `${this.o.base}/${device}/${quantity}`;
    const payload = typeof value === 'string' ? value : JSON.stringify(value);
    if (this.stateCache.get(topic) === payload) return;
    this.stateCache.set(topic, payload);
    const disc = sensorDiscovery(this.o.discovery, device, quantity, topic);
    if (disc) this.publishDiscovery(disc.topic, disc.config);
    this.o.send(topic, payload, this.o.cfg.retain);
  }

  private publishReading(device: string, quantity: string, r: Reading<number> | Reading<PhaseValues> | undefined) {
    if (r?.quality !== 'good') return;
    const v = r.value;
    this.publishState(device, quantity, typeof v === 'number' ? String(round(v)) : v.map(round));
  }

  private onEvseSpec(spec: EvseSpec): void {
    const seg = topicSegment(spec.id);
    this.evseBySegment.set(seg, spec);
    if (!this.o.cfg.commands) return;
    const d = numberDiscovery(this.o.discovery, seg, 'maxCurrent', `${this.o.base}/${seg}/maxCurrent/set`, {
      name: 'Max current',
      unit: 'A',
      min: 0,
      max: spec.maxCurrentA,
      step: 1,
    });
    this.publishDiscovery(d.topic, d.config);
  }
}

function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Record<string, T[K]> {
  return Object.fromEntries(keys.map((k) => [k, o[k]])) as Record<string, T[K]>;
}

export function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
