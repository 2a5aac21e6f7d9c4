import { z } from 'zod';
import { ApiSchema } from './sections/api.js';
import { ControlSchema } from './sections/control.js';
import { FleetSchema } from './sections/fleet.js';
import { GridSchema } from './sections/grid.js';
import { IntegrationSchema } from './sections/integration.js';
import { ModbusSchema } from './sections/modbus.js';
import { MqttSchema } from './sections/mqtt.js';
import { OcppSchema } from './sections/ocpp.js';
import { OpcuaSchema } from './sections/opcua.js';
import { ChargerSchema, SiteSchema } from './sections/site.js';
import { StoreSchema } from './sections/store.js';

/**
 * The one schema of a gridkeeper site file. It is the single source of
 * validation, TypeScript types and the configuration reference
 * (`gridkeeper config-docs`). Each section lives in `sections/<name>.ts`.
 */
export const ConfigSchema = z
  .object({
    site: SiteSchema,
    control: ControlSchema.prefault({}),
    chargers: z.array(ChargerSchema).default([]),
    modbus: ModbusSchema.prefault({}),
    ocpp: OcppSchema.prefault({}),
    mqtt: MqttSchema.prefault({}),
    opcua: OpcuaSchema.prefault({}),
    /** Grid integration: OpenADR VEN, OSCP, simple DR signals, tariffs. */
    grid: GridSchema.prefault({}),
    /** Partners: API keys, webhooks, external authoriser, InfluxDB export. */
    integration: IntegrationSchema.prefault({}),
    /** Vehicles and their needs (departure, energy). */
    fleet: FleetSchema.prefault({}),
    api: ApiSchema.prefault({}),
    store: StoreSchema.prefault({}),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    // Cross-field rules that a per-field schema cannot express.
    const circuitIds = new Set(['site', ...cfg.site.circuits.map((c) => c.id)]);
    cfg.site.circuits.forEach((c, i) => {
      if (!circuitIds.has(c.parent)) {
        ctx.addIssue({
          code: 'custom',
          path: ['site', 'circuits', i, 'parent'],
          message: `unknown circuit "${c.parent}"`,
        });
      }
      if (c.id === 'site') {
        ctx.addIssue({
          code: 'custom',
          path: ['site', 'circuits', i, 'id'],
          message: '"site" is reserved for the grid connection',
        });
      }
    });
    const seen = new Set<string>();
    cfg.chargers.forEach((ch, i) => {
      if (!circuitIds.has(ch.circuit)) {
        ctx.addIssue({ code: 'custom', path: ['chargers', i, 'circuit'], message: `unknown circuit "${ch.circuit}"` });
      }
      if (seen.has(ch.id)) {
        ctx.addIssue({ code: 'custom', path: ['chargers', i, 'id'], message: `duplicate charger id "${ch.id}"` });
      }
      seen.add(ch.id);
      if (ch.minCurrentA > ch.maxCurrentA) {
        ctx.addIssue({ code: 'custom', path: ['chargers', i, 'minCurrentA'], message: 'must not exceed maxCurrentA' });
      }
    });
  });

export type GatewayConfig = z.infer<typeof ConfigSchema>;
export type GatewayConfigInput = z.input<typeof ConfigSchema>;
