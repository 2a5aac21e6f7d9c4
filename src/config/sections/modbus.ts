import { z } from 'zod';

/** One Modbus device (SunSpec or profile-based) on a TCP link. */
export const ModbusDeviceSchema = z
  .object({
    id: z.string().min(1),
    role: z.enum(['grid', 'pv', 'battery', 'charger', 'load']),
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(502),
    unitId: z.number().int().min(0).max(255).default(1),
    sunspec: z.boolean().default(true),
    profile: z.string().optional().describe('Device profile name for non-SunSpec devices.'),
    pollMs: z.number().int().min(50).default(1000),
    timeoutMs: z.number().int().min(50).default(1000),
  })
  .passthrough();

export const ModbusSchema = z
  .object({
    devices: z.array(ModbusDeviceSchema).default([]),
  })
  .passthrough();

export type ModbusDeviceConfig = z.infer<typeof ModbusDeviceSchema>;
export type ModbusConfig = z.infer<typeof ModbusSchema>;
