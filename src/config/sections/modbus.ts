import { z } from 'zod';
import { intAtLeast } from './parts.js';
import { uniqueIdCheck } from './ids.js';

/**
 * A Modbus link: one TCP connection or one serial line. Every request on a
 * link goes through one serialised queue, whatever unit id it addresses.
 * Devices name their link with `link:`; a device with `host`/`port` and no
 * `link` gets an implicit TCP link per host:port.
 */
export const ModbusLinkSchema = z
  .object({
    id: z.string().min(1),
    transport: z
      .enum(['tcp', 'rtu', 'rtuovertcp'])
      .default('tcp')
      .describe('`tcp` Modbus TCP; `rtu` serial RS-485; `rtuovertcp` RTU frames through a TCP serial server.'),
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(502),
    path: z.string().optional().describe('Serial device for `rtu`, e.g. /dev/ttyUSB0.'),
    baudRate: z.number().int().positive().default(9600),
    parity: z.enum(['none', 'even', 'odd']).default('none'),
    dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
    stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
    timeoutMs: intAtLeast(50, 1000).describe('Default request timeout on this link, ms.'),
    gapMs: intAtLeast(0, 0).describe(
      'Pause between two requests; some devices need it (RTU: 3.5 chars are handled by the driver).',
    ),
    connectTimeoutMs: intAtLeast(50, 3000),
  })
  .strict()
  .superRefine((l, ctx) => {
    if (l.transport === 'rtu' && !l.path) ctx.addIssue({ code: 'custom', path: ['path'], message: 'required for rtu' });
  });

export const ModbusEvseSchema = z
  .object({
    connectorId: intAtLeast(1, 1),
    circuit: z.string().default('site'),
    phases: z.union([z.literal(1), z.literal(3)]).default(3),
    phaseRotation: z.enum(['L1L2L3', 'L2L3L1', 'L3L1L2', 'L1L3L2', 'L3L2L1', 'L2L1L3']).default('L1L2L3'),
    minCurrentA: z.number().nonnegative().default(6),
    maxCurrentA: z.number().positive().default(32),
    voltageV: z.number().positive().default(230),
    priority: z.number().int().default(0),
  })
  .strict();

/** One Modbus device (SunSpec or profile-based). */
export const ModbusDeviceSchema = z
  .object({
    id: z.string().min(1),
    role: z.enum(['grid', 'pv', 'battery', 'charger', 'load']),
    link: z.string().optional().describe('Id of an entry of `modbus.links`; otherwise host/port form a TCP link.'),
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(502),
    unitId: z.number().int().min(0).max(255).default(1),
    sunspec: z.boolean().default(true).describe('Discover SunSpec models (ignored when `profile` is set).'),
    sunspecBase: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .optional()
      .describe('Skip discovery of the base address (40000, 0, 50000 are tried otherwise).'),
    profile: z.string().optional().describe('Device profile name (file name without .yaml) for non-SunSpec devices.'),
    maxRegistersPerRead: z
      .number()
      .int()
      .min(1)
      .max(125)
      .optional()
      .describe(
        "Profile devices: most registers one request may ask for, overriding the profile's (e.g. 2 for a KEBA P40).",
      ),
    pollMs: intAtLeast(50, 1000),
    timeoutMs: intAtLeast(50, 1000),
    offlineAfterFailures: intAtLeast(1, 2).describe(
      'Consecutive failed polls before the device is reported offline and its readings stop.',
    ),
    invertPower: z.boolean().default(false).describe('Flip the sign of power readings (devices wired the other way).'),
    revertTimeoutS: intAtLeast(0, 60).describe(
      'Revert timeout written with set-points where the device supports it, s.',
    ),
    evse: ModbusEvseSchema.optional().describe('Charger devices: the EVSE the gateway announces and controls.'),
  })
  .strict();

export const ModbusSchema = z
  .object({
    links: z.array(ModbusLinkSchema).default([]),
    devices: z.array(ModbusDeviceSchema).default([]),
    reconnect: z
      .object({
        minMs: intAtLeast(10, 1000),
        maxMs: intAtLeast(10, 30_000),
      })
      .strict()
      .prefault({}),
    profileDirs: z.array(z.string()).default([]).describe('Extra directories with device profiles (YAML).'),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const links = new Set(cfg.links.map((l) => l.id));
    const checkId = uniqueIdCheck(ctx, 'devices');
    cfg.devices.forEach((d, i) => {
      if (d.link !== undefined && !links.has(d.link)) {
        ctx.addIssue({ code: 'custom', path: ['devices', i, 'link'], message: `unknown link "${d.link}"` });
      }
      checkId(d.id, i);
      if (d.role === 'charger' && d.profile === undefined) {
        ctx.addIssue({ code: 'custom', path: ['devices', i, 'profile'], message: 'chargers need a profile' });
      }
    });
  });

export type ModbusLinkConfig = z.infer<typeof ModbusLinkSchema>;
export type ModbusEvseConfig = z.infer<typeof ModbusEvseSchema>;
export type ModbusDeviceConfig = z.infer<typeof ModbusDeviceSchema>;
export type ModbusConfig = z.infer<typeof ModbusSchema>;
