import { z } from 'zod';

/** A fleet vehicle and its usual needs; live needs from the API override these per session. */
export const VehicleSchema = z
  .object({
    id: z.string().min(1).describe('Vehicle id (used by `PUT /api/v1/vehicles/<id>/needs`).'),
    idTag: z.string().optional().describe('RFID / OCPP id tag that identifies the vehicle at a charger.'),
    evseId: z.string().optional().describe('Fixed EVSE (`<chargerId>/<connectorId>`) the vehicle always uses.'),
    departure: z
      .string()
      .regex(/^([01]?\d|2[0-3]):[0-5]\d$/, 'HH:MM')
      .optional()
      .describe('Daily departure, HH:MM (UTC).'),
    energyKwh: z.number().positive().optional().describe('Energy needed per session by departure, kWh.'),
    maxCurrentA: z.number().positive().optional().describe("The vehicle's own charging current limit, A."),
    phases: z
      .union([z.literal(1), z.literal(3)])
      .optional()
      .describe('Phases the on-board charger uses.'),
  })
  .strict();

export const FleetSchema = z
  .object({
    vehicles: z.array(VehicleSchema).default([]),
    deadlines: z
      .object({
        enabled: z.boolean().default(true),
        safetyFactor: z
          .number()
          .min(1)
          .default(1.2)
          .describe('Requested power = average power needed to departure x this factor.'),
        siteCapacityW: z
          .number()
          .positive()
          .optional()
          .describe('Power usually available for charging at the connection, W (joint planning).'),
        chargeAhead: z
          .boolean()
          .default(true)
          .describe('Room left after the deadlines goes first to vehicles that still need energy (optimisation tier).'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type FleetConfig = z.infer<typeof FleetSchema>;
export type VehicleConfig = z.infer<typeof VehicleSchema>;
