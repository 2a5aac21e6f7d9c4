/**
 * Home Assistant MQTT discovery: one retained config per published quantity,
 * so a site's gateway appears in Home Assistant without any YAML there.
 */

export interface QuantityMeta {
  readonly component: 'sensor' | 'binary_sensor';
  readonly name: string;
  readonly unit?: string;
  readonly deviceClass?: string;
  readonly stateClass?: 'measurement' | 'total_increasing';
  readonly valueTemplate?: string;
}

const power = (name: string): QuantityMeta => ({
  component: 'sensor',
  name,
  unit: 'W',
  deviceClass: 'power',
  stateClass: 'measurement',
});
const energy = (name: string): QuantityMeta => ({
  component: 'sensor',
  name,
  unit: 'Wh',
  deviceClass: 'energy',
  stateClass: 'total_increasing',
});

/** Quantities the adapter publishes and how Home Assistant should show them. */
export const QUANTITY_META: Readonly<Record<string, QuantityMeta>> = {
  powerW: power('Power'),
  energyWh: energy('Energy'),
  importEnergyWh: energy('Import energy'),
  exportEnergyWh: energy('Export energy'),
  sessionEnergyWh: energy('Session energy'),
  socPct: {
    component: 'sensor',
    name: 'State of charge',
    unit: '%',
    deviceClass: 'battery',
    stateClass: 'measurement',
  },
  sohPct: { component: 'sensor', name: 'State of health', unit: '%', stateClass: 'measurement' },
  cellTempMinC: {
    component: 'sensor',
    name: 'Cell temperature min',
    unit: '°C',
    deviceClass: 'temperature',
    stateClass: 'measurement',
  },
  cellTempMaxC: {
    component: 'sensor',
    name: 'Cell temperature max',
    unit: '°C',
    deviceClass: 'temperature',
    stateClass: 'measurement',
  },
  maxChargePowerW: power('Max charge power'),
  maxDischargePowerW: power('Max discharge power'),
  alarms: { component: 'sensor', name: 'Alarm flags' },
  status: { component: 'sensor', name: 'Status' },
  online: { component: 'binary_sensor', name: 'Online', deviceClass: 'connectivity' },
  setpoint: {
    component: 'sensor',
    name: 'Current set-point',
    unit: 'A',
    deviceClass: 'current',
    stateClass: 'measurement',
    valueTemplate: '{{ value_json.currentA }}',
  },
  failsafe: {
    component: 'binary_sensor',
    name: 'Failsafe',
    deviceClass: 'problem',
    valueTemplate: "{{ 'ON' if value_json.active else 'OFF' }}",
  },
};

export interface DiscoveryContext {
  readonly discoveryPrefix: string;
  readonly siteId: string;
  readonly availabilityTopic: string;
}

function haId(s: string): string {
  return s.replace(/[^a-zA-Z0-9_-]/g, '_');
}

function deviceBlock(ctx: DiscoveryContext, device: string): Record<string, unknown> {
  const gateway = `gridkeeper_${haId(ctx.siteId)}`;
  if (device === 'site') {
    return { identifiers: [gateway], name: `gridkeeper ${ctx.siteId}`, manufacturer: 'gridkeeper', model: 'gateway' };
  }
  return {
    identifiers: [`${gateway}_${haId(device)}`],
    name: `${ctx.siteId} ${device}`,
    manufacturer: 'gridkeeper',
    via_device: gateway,
  };
}

function availability(ctx: DiscoveryContext): Record<string, unknown> {
  return { availability_topic: ctx.availabilityTopic, payload_available: 'online', payload_not_available: 'offline' };
}

/** Discovery topic and config for one state topic, or undefined when the quantity has no meta. */
export function sensorDiscovery(
  ctx: DiscoveryContext,
  device: string,
  quantity: string,
  stateTopic: string,
): { topic: string; config: Record<string, unknown> } | undefined {
  const meta = QUANTITY_META[quantity];
  if (!meta) return undefined;
  const objectId = haId(`${device}_${quantity}`);
  const config: Record<string, unknown> = {
    name: meta.name,
    unique_id: `gridkeeper_${haId(ctx.siteId)}_${objectId}`,
    state_topic: stateTopic,
    ...availability(ctx),
    device: deviceBlock(ctx, device),
  };
  if (meta.unit) config.unit_of_measurement = meta.unit;
  if (meta.deviceClass) config.device_class = meta.deviceClass;
  if (meta.stateClass) config.state_class = meta.stateClass;
  if (meta.valueTemplate) config.value_template = meta.valueTemplate;
  return {
    topic: `${ctx.discoveryPrefix}/${meta.component}/gridkeeper_${haId(ctx.siteId)}/${objectId}/config`,
    config,
  };
}

/** A settable number (site limit override, EVSE max current) backed by a `/set` topic. */
export function numberDiscovery(
  ctx: DiscoveryContext,
  device: string,
  quantity: string,
  commandTopic: string,
  opts: { name: string; unit: string; min: number; max: number; step: number },
): { topic: string; config: Record<string, unknown> } {
  const objectId = haId(`${device}_${quantity}`);
  return {
    topic: `${ctx.discoveryPrefix}/number/gridkeeper_${haId(ctx.siteId)}/${objectId}/config`,
    config: {
      name: opts.name,
      unique_id: `gridkeeper_${haId(ctx.siteId)}_${objectId}`,
      command_topic: commandTopic,
      unit_of_measurement: opts.unit,
      min: opts.min,
      max: opts.max,
      step: opts.step,
      mode: 'box',
      ...availability(ctx),
      device: deviceBlock(ctx, device),
    },
  };
}
