import { z } from 'zod';
import { SlugIdSchema } from './ids.js';

export const PhaseRotationSchema = z.enum(['L1L2L3', 'L2L3L1', 'L3L1L2', 'L1L3L2', 'L3L2L1', 'L2L1L3']);

/** A node of the circuit tree below the site connection (feeder, sub-distribution). */
export const CircuitSchema = z
  .object({
    id: z.string().min(1).describe('Unique circuit id, referenced by chargers and child circuits.'),
    parent: z.string().min(1).default('site').describe('Parent circuit id; `site` is the grid connection.'),
    maxCurrentA: z.number().positive().describe('Per-phase current limit of this node (fuse / cable), A.'),
    maxPowerW: z.number().positive().optional().describe('Optional total power limit of this node, W.'),
  })
  .strict();

export const SiteSchema = z
  .object({
    id: SlugIdSchema.describe('Site id, used in MQTT topics.'),
    name: z.string().default('gridkeeper site'),
    limitW: z.number().positive().describe('Maximum grid import of the site (contract or connection), W.'),
    exportLimitW: z.number().nonnegative().optional().describe('Maximum export to the grid, W.'),
    fuseA: z.number().positive().optional().describe('Per-phase main fuse of the grid connection, A.'),
    voltageV: z.number().positive().default(230).describe('Nominal phase-to-neutral voltage, V.'),
    failsafeLimitW: z
      .number()
      .nonnegative()
      .describe('Budget for all controllable loads while the grid meter is stale, W.'),
    gridStaleAfterMs: z
      .number()
      .int()
      .positive()
      .default(3000)
      .describe('Grid reading age after which it is stale, ms.'),
    staleAfterMs: z.number().int().positive().default(10_000).describe('Age after which other readings are stale, ms.'),
    circuits: z.array(CircuitSchema).default([]),
  })
  .strict();

export const ChargerSchema = z
  .object({
    id: z.string().min(1).describe('Charge point identity (OCPP id or Modbus device id).'),
    protocol: z.enum(['ocpp', 'modbus']).default('ocpp'),
    connectors: z.number().int().min(1).max(8).default(1),
    circuit: z.string().default('site').describe('Circuit node the charger is wired to.'),
    phases: z.union([z.literal(1), z.literal(3)]).default(3),
    phaseRotation: PhaseRotationSchema.default('L1L2L3'),
    minCurrentA: z.number().nonnegative().default(6),
    maxCurrentA: z.number().positive().default(32),
    bidirectional: z.boolean().default(false),
    priority: z.number().int().default(0),
    password: z.string().optional().describe('OCPP Basic-auth password (use ${ENV_VAR}).'),
  })
  .strict();

export type SiteConfig = z.infer<typeof SiteSchema>;
export type ChargerConfig = z.infer<typeof ChargerSchema>;
export type CircuitConfig = z.infer<typeof CircuitSchema>;
