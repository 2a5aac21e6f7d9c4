import { z } from 'zod';
import { checkUniqueIds, SlugIdSchema } from './ids.js';

/** One value of an inbound MQTT device: which topic, where in the payload, how to scale. */
export const MqttPointSchema = z
  .object({
    quantity: z
      .enum(['power', 'energy', 'exportEnergy', 'soc', 'currents'])
      .default('power')
      .describe(
        'What the value is: power (W), energy (Wh, import/production), exportEnergy (Wh), soc (%), currents ([L1,L2,L3] A).',
      ),
    topic: z.string().min(1).describe('Topic the device publishes on (no wildcards).'),
    jsonPath: z
      .string()
      .min(1)
      .optional()
      .describe('Path into a JSON payload, e.g. `power.total` or `$.phases[0]`; omit for a plain numeric payload.'),
    scale: z
      .number()
      .default(1)
      .describe('Multiplier applied first (use -1 to flip the sign to the gateway convention).'),
    unit: z
      .enum(['W', 'kW', 'Wh', 'kWh', '%', 'A'])
      .optional()
      .describe('Unit of the (scaled) payload; kW and kWh are converted to W and Wh.'),
  })
  .strict()
  .refine((p) => !p.topic.includes('+') && !p.topic.includes('#'), {
    message: 'wildcards are not allowed in a device topic',
    path: ['topic'],
  });

/** A device whose readings arrive over MQTT (a sub-meter, an inverter bridge, a BMS gateway). */
export const MqttDeviceSchema = z
  .object({
    id: SlugIdSchema,
    role: z.enum(['grid', 'pv', 'battery', 'load']).describe('Where its readings go in the process image.'),
    staleAfterMs: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe('Without a message for this long the device is offline and its readings stale, ms.'),
    points: z.array(MqttPointSchema).min(1),
  })
  .strict();

export const MqttTlsSchema = z
  .object({
    ca: z.string().optional().describe('Path of a PEM CA bundle for the broker certificate.'),
    cert: z.string().optional().describe('Path of a PEM client certificate.'),
    key: z.string().optional().describe('Path of the PEM client key.'),
    rejectUnauthorized: z.boolean().default(true),
  })
  .strict();

export const MqttSchema = z
  .object({
    enabled: z.boolean().default(false),
    broker: z
      .enum(['embedded', 'external'])
      .default('embedded')
      .describe('`embedded` starts an aedes broker inside the gateway; `external` connects to `url`.'),
    host: z.string().default('127.0.0.1').describe('Listen address of the embedded broker.'),
    port: z.number().int().min(0).max(65535).default(1883).describe('Listen port of the embedded broker (0 = any).'),
    url: z
      .string()
      .regex(/^(mqtts?|tcp|tls|wss?):\/\//, 'mqtt://, mqtts://, tcp://, tls://, ws:// or wss:// URL')
      .optional()
      .describe('External broker URL, e.g. `mqtts://broker.example:8883`.'),
    username: z.string().optional().describe('Broker user; may reference an environment variable, e.g. MQTT_USERNAME.'),
    password: z
      .string()
      .optional()
      .describe('Broker password; reference an environment variable (e.g. MQTT_PASSWORD), never inline it.'),
    tls: MqttTlsSchema.optional(),
    clientId: z.string().optional().describe('Client id; `gridkeeper-<siteId>` when omitted.'),
    topicPrefix: z
      .string()
      .regex(/^[^+#]+$/, 'no wildcards')
      .default('gridkeeper'),
    retain: z.boolean().default(true).describe('Publish state retained, so a new subscriber sees the latest values.'),
    discovery: z
      .object({
        enabled: z.boolean().default(true),
        prefix: z.string().default('homeassistant'),
      })
      .strict()
      .prefault({}),
    commands: z.boolean().default(true).describe('Accept commands on `<prefix>/<site>/<device>/<quantity>/set`.'),
    devices: z.array(MqttDeviceSchema).default([]),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    if (cfg.enabled && cfg.broker === 'external' && !cfg.url) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'required when broker is external' });
    }
    checkUniqueIds(ctx, 'devices', cfg.devices);
  });

export type MqttPointConfig = z.infer<typeof MqttPointSchema>;
export type MqttDeviceConfig = z.infer<typeof MqttDeviceSchema>;
export type MqttConfig = z.infer<typeof MqttSchema>;
export type MqttConfigInput = z.input<typeof MqttSchema>;
