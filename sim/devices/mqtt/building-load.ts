import { type MqttClient, connectAsync } from 'mqtt';
import type { Clock, TimerHandle } from '../../../src/model/clock.js';

export interface BuildingLoadSimOptions {
  readonly clock: Clock;
  /** Broker URL, e.g. `mqtt://127.0.0.1:1883`. */
  readonly url: string;
  readonly topic?: string;
  readonly intervalMs?: number;
  /** Power the sub-meter measures, W; e.g. `() => physics.baseLoadW()`. */
  readonly powerW: () => number;
}

export interface BuildingLoadSim {
  readonly topic: string;
  /** Publish one reading now (tests call this instead of waiting for the interval). */
  publishNow(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A sub-metered building load as many site meters publish it: a JSON object
 * with total power in kW, per-phase power in W and a kWh counter. The units
 * differ on purpose, so the gateway's per-point scaling is exercised.
 */
export async function startBuildingLoadSim(opts: BuildingLoadSimOptions): Promise<BuildingLoadSim> {
  const topic = opts.topic ?? 'site/building/meter';
  const client: MqttClient = await connectAsync(opts.url, {
    clientId: `sim-building-${process.pid}`,
    reconnectPeriod: 1000,
  });
  let energyKwh = 0;
  let last = opts.clock.now();
  const publishNow = async () => {
    const now = opts.clock.now();
    const w = opts.powerW();
    energyKwh += (w * Math.max(0, now - last)) / 3_600_000 / 1000;
    last = now;
    const phase = w / 3;
    const payload = {
      ts: new Date(now).toISOString(),
      power: { total: Math.round(w) / 1000, phases: [phase, phase, phase].map(Math.round) },
      energy: Math.round(energyKwh * 1000) / 1000,
    };
    if (client.connected) await client.publishAsync(topic, JSON.stringify(payload), { qos: 0 });
  };
  const timer: TimerHandle = opts.clock.setInterval(() => void publishNow().catch(() => {}), opts.intervalMs ?? 1000);
  return {
    topic,
    publishNow,
    async stop() {
      opts.clock.clearInterval(timer);
      if (!client.disconnected) await client.endAsync(true);
    },
  };
}

/** The MQTT device config that reads this simulator (demo and tests). */
export function buildingLoadDeviceConfig(topic = 'site/building/meter') {
  return {
    id: 'building',
    role: 'load' as const,
    staleAfterMs: 10_000,
    points: [
      { quantity: 'power' as const, topic, jsonPath: 'power.total', unit: 'kW' as const },
      { quantity: 'energy' as const, topic, jsonPath: 'energy', unit: 'kWh' as const },
    ],
  };
}
