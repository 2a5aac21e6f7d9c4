import { z } from 'zod';
import { checkUniqueIds, SlugIdSchema } from './ids.js';

/** A NodeId (`ns=1;s=BMS.SoC`) or a NodeId with a multiplier (kW -> W: 1000, flip sign: -1). */
export const OpcuaNodeRefSchema = z.union([
  z
    .string()
    .min(1)
    .transform((nodeId) => ({ nodeId, scale: 1 })),
  z.object({ nodeId: z.string().min(1), scale: z.number().default(1) }).strict(),
]);

/** BMS quantities that can be mapped to NodeIds; units are those of the gateway after scaling. */
export const OpcuaBatteryNodesSchema = z
  .object({
    socPct: OpcuaNodeRefSchema.describe('State of charge, %.'),
    powerW: OpcuaNodeRefSchema.optional().describe('Battery power, W (+ charging, - discharging after scaling).'),
    sohPct: OpcuaNodeRefSchema.optional().describe('State of health, %.'),
    cellTempMinC: OpcuaNodeRefSchema.optional().describe('Lowest cell temperature, °C.'),
    cellTempMaxC: OpcuaNodeRefSchema.optional().describe('Highest cell temperature, °C.'),
    maxChargePowerW: OpcuaNodeRefSchema.optional().describe('Charge power the BMS allows now, W.'),
    maxDischargePowerW: OpcuaNodeRefSchema.optional().describe('Discharge power the BMS allows now, W (>= 0).'),
    alarms: OpcuaNodeRefSchema.optional().describe('Alarm bit field or boolean; 0/false = no alarm.'),
  })
  .strict();

export const OPCUA_SECURITY_MODES = ['None', 'Sign', 'SignAndEncrypt'] as const;
export const OPCUA_SECURITY_POLICIES = [
  'None',
  'Basic256Sha256',
  'Aes128_Sha256_RsaOaep',
  'Aes256_Sha256_RsaPss',
] as const;

/** One OPC UA server (usually one BMS or battery controller) and the NodeIds the gateway uses. */
export const OpcuaDeviceSchema = z
  .object({
    id: SlugIdSchema,
    role: z.literal('battery').default('battery'),
    endpoint: z
      .string()
      .regex(/^opc\.tcp:\/\/[^/]+/, 'an opc.tcp:// URL')
      .describe('Server endpoint, e.g. `opc.tcp://10.0.0.20:4840`.'),
    securityMode: z.enum(OPCUA_SECURITY_MODES).default('None'),
    securityPolicy: z.enum(OPCUA_SECURITY_POLICIES).default('None'),
    username: z
      .string()
      .optional()
      .describe('User name; anonymous when omitted (may reference an environment variable).'),
    password: z.string().optional().describe('Password; reference an environment variable (e.g. OPCUA_PASSWORD).'),
    pkiDir: z
      .string()
      .optional()
      .describe("Client certificate store; a directory under the system's temp dir when omitted."),
    publishingIntervalMs: z.number().int().min(50).default(500),
    samplingIntervalMs: z.number().int().min(0).default(250),
    staleAfterMs: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe('Without a notification or keep-alive for this long the device is offline and its readings stale, ms.'),
    nodes: OpcuaBatteryNodesSchema,
    setpoint: z
      .object({
        powerW: OpcuaNodeRefSchema.describe('Writable battery power set-point, W (+ charge, - discharge).'),
        confirm: z.boolean().default(true).describe('Read the node back after writing and fail on a mismatch.'),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((d, ctx) => {
    if ((d.securityMode === 'None') !== (d.securityPolicy === 'None')) {
      ctx.addIssue({
        code: 'custom',
        path: ['securityPolicy'],
        message: 'securityMode None goes with securityPolicy None, and only with it',
      });
    }
    if (d.password !== undefined && d.username === undefined) {
      ctx.addIssue({ code: 'custom', path: ['username'], message: 'required when a password is set' });
    }
  });

export const OpcuaSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Set to false to keep the listed devices configured but unused.'),
    devices: z.array(OpcuaDeviceSchema).default([]),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    checkUniqueIds(ctx, 'devices', cfg.devices);
  });

export type OpcuaNodeRef = z.infer<typeof OpcuaNodeRefSchema>;
export type OpcuaDeviceConfig = z.infer<typeof OpcuaDeviceSchema>;
export type OpcuaDeviceConfigInput = z.input<typeof OpcuaDeviceSchema>;
export type OpcuaConfig = z.infer<typeof OpcuaSchema>;
