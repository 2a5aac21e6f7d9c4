import cron from 'node-cron';
import { z } from 'zod';

const cronPattern = z
  .string()
  .min(1)
  .superRefine((expr, ctx) => {
    const d = cron.validateDetailed(expr);
    if (!d.valid) {
      ctx.addIssue({
        code: 'custom',
        message: `invalid cron expression: ${d.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
      });
    }
  })
  .describe('node-cron expression (5 or 6 fields) of the minutes the period covers.');

const timeZone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'unknown IANA time zone' },
);

/** One time-of-use period: the price in force during the minutes the cron expression matches. */
export const TouPeriodSchema = z
  .object({
    name: z.string().optional(),
    cron: cronPattern,
    pricePerKwh: z.number().describe('Price per kWh in the tariff currency.'),
  })
  .strict();

/** A price component (energy, grid fee, levy, tax): static periods, a flat default and an optional dynamic source. */
export const TariffComponentSchema = z
  .object({
    name: z.string().min(1),
    kind: z.enum(['energy', 'gridFee', 'levy', 'tax']).default('energy'),
    direction: z.enum(['import', 'export']).default('import'),
    /** First matching period wins; none matching gives `defaultPerKwh`. */
    periods: z.array(TouPeriodSchema).default([]),
    defaultPerKwh: z.number().default(0),
    /** Price series from outside (OpenADR PRICE events, a JSON/CSV URL or MQTT) replaces the static price while it covers the time. */
    dynamic: z
      .boolean()
      .default(false)
      .describe('Use the dynamic price series for this component when it covers the time.'),
  })
  .strict();

export const TariffSchema = z
  .object({
    currency: z.string().default('EUR'),
    timezone: timeZone.default('UTC').describe('IANA time zone the cron expressions are read in.'),
    components: z.array(TariffComponentSchema).default([]),
    /** Planning into green hours: a kg of CO2 counts as this much money when choosing when to charge (0: price only). */
    co2PricePerKg: z.number().nonnegative().default(0),
    /** Percentage added on top of the import components (VAT). */
    vatPct: z.number().nonnegative().default(0),
    dynamic: z
      .object({
        url: z
          .string()
          .url()
          .optional()
          .describe('JSON or CSV price series: [{start, end?, price}] or `start,price` lines.'),
        format: z.enum(['json', 'csv']).default('json'),
        refreshMs: z.number().int().positive().default(3_600_000),
        mqttTopic: z.string().optional(),
        /** Price values from the source are per MWh (EPEX style) and need dividing by 1000. */
        perMwh: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export const OpenAdrSchema = z
  .object({
    enabled: z.boolean().default(false),
    vtnUrl: z.string().url().optional().describe('Base URL of the VTN (the OpenADR 3 API root).'),
    tokenUrl: z.string().url().optional().describe('OAuth2 token endpoint; `<vtnUrl>/auth/token` when omitted.'),
    clientId: z
      .string()
      .optional()
      .describe('OAuth2 client id (from the GRIDKEEPER_VTN_CLIENT_ID environment variable).'),
    clientSecret: z
      .string()
      .optional()
      .describe('OAuth2 client secret (from the GRIDKEEPER_VTN_CLIENT_SECRET environment variable).'),
    venName: z.string().min(1).default('gridkeeper'),
    programNames: z
      .array(z.string().min(1))
      .default([])
      .describe('Programs to follow; all visible programs when empty.'),
    pollIntervalMs: z.number().int().min(500).default(10_000),
    reportIntervalMs: z.number().int().min(1000).default(60_000),
    requestTimeoutMs: z.number().int().min(100).default(5000),
    /** Public URL of our callback endpoint; a subscription is created when set and the VTN offers them. */
    callbackUrl: z.string().url().optional(),
    subscribe: z
      .boolean()
      .default(false)
      .describe(
        'Ask the VTN for event subscriptions calling back at the HTTP API server (its address + callbackPath); a set callbackUrl subscribes at that URL instead.',
      ),
    callbackPath: z
      .string()
      .regex(/^\/[A-Za-z0-9/_.-]*$/)
      .default('/openadr/callback')
      .describe('Path of the subscription callback on the HTTP API server (api.host/api.port).'),
    callbackPort: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .optional()
      .describe(
        'Deprecated: the callback is served by the HTTP API at callbackPath; when set, it acts as subscribe: true.',
      ),
    callbackHost: z
      .string()
      .optional()
      .describe('Deprecated and ignored: the callback listens where the HTTP API listens (api.host).'),
    /** Largest tolerated difference between the VTN's clock (HTTP Date) and ours, ms. */
    maxClockSkewMs: z.number().int().nonnegative().default(30_000),
    resources: z
      .array(z.string().min(1))
      .default([])
      .describe('Resource names registered besides `site` (e.g. `battery`, `v2g-group-1`).'),
  })
  .strict();

export const OscpSchema = z
  .object({
    enabled: z.boolean().default(false),
    capacityProviderUrl: z
      .string()
      .url()
      .optional()
      .describe('Base URL of the capacity provider (DSO), e.g. https://cp/oscp/cp/2.0'),
    /** Token we present to the capacity provider (theirs). */
    cpToken: z.string().optional(),
    /** Token the capacity provider presents to us (ours). */
    fpToken: z.string().optional(),
    /** Address our endpoints are reachable at, sent in Register; the API server's address plus `path` when omitted. */
    publicUrl: z.string().url().optional(),
    path: z
      .string()
      .regex(/^\/[A-Za-z0-9/_.-]*[^/]$/)
      .default('/oscp/fp/2.0')
      .describe('Path prefix of our OSCP endpoints on the HTTP API server (api.host/api.port).'),
    port: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .optional()
      .describe('Deprecated and ignored: the OSCP endpoints are served by the HTTP API (api.port) under `path`.'),
    host: z
      .string()
      .optional()
      .describe('Deprecated and ignored: the OSCP endpoints listen where the HTTP API listens (api.host).'),
    groupId: z.string().min(1).default('site'),
    heartbeatIntervalS: z.number().int().positive().default(60),
    measurementIntervalMs: z.number().int().min(1000).default(60_000),
    requestTimeoutMs: z.number().int().min(100).default(5000),
    /** Ask for more capacity when the site needs more than this share of the forecast. */
    adjustAbovePct: z.number().min(0).max(100).default(95),
  })
  .strict();

export const BatteryVppSchema = z
  .object({
    id: z.string().min(1).default('battery'),
    capacityWh: z.number().positive().default(100_000),
    maxChargeW: z.number().nonnegative().default(50_000),
    maxDischargeW: z.number().nonnegative().default(50_000),
    minSocPct: z.number().min(0).max(100).default(20),
    maxSocPct: z.number().min(0).max(100).default(95),
  })
  .strict();

/**
 * §14a EnWG: a DSO control signal may cut the grid draw of the controllable devices behind the EMS
 * down to P_min = 4.2 kW + (n − 1) · GZF · 4.2 kW (BNetzA BK6-22-300, Annex 1, 4.5.2), never lower.
 * Only signals from the sources listed here are §14a signals; OpenADR, OSCP or contract limits are not.
 */
export const Section14aSchema = z
  .object({
    sources: z
      .array(z.string().min(1))
      .default([])
      .describe(
        "Signal sources that carry the DSO's §14a control signal (`http`, `mqtt`, `oscp`, `openadr`); none by default.",
      ),
    devices: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe(
        'Controllable devices (n) behind the EMS; the configured chargers (plus the VPP battery) when omitted.',
      ),
    perDeviceW: z.number().positive().default(4200).describe('Minimum per device, W (4.2 kW in BK6-22-300).'),
    gzf: z
      .record(z.string().regex(/^[0-9]+$/), z.number().min(0).max(1))
      .default({ '2': 0.8, '3': 0.75, '4': 0.7, '5': 0.65, '6': 0.6, '7': 0.55, '8': 0.5, '9': 0.45 })
      .describe(
        'Simultaneity factor GZF by number of devices n (BK6-22-300 Annex 1 table; a larger n takes the factor of the largest n listed). Check the defaults against the text in force.',
      ),
  })
  .strict();

export const GridSchema = z
  .object({
    /** Headroom kept below a grid-operator import limit, W. */
    marginW: z.number().nonnegative().default(500),
    floorPerDeviceW: z
      .number()
      .nonnegative()
      .optional()
      .describe(
        'Deprecated and ignored (logged at start): a floor of 4.2 kW per session under every import limit let DR limits go unmet. The §14a EnWG minimum now applies only to signals of the sources in `section14a.sources`.',
      ),
    section14a: Section14aSchema.prefault({}),
    /** Whether the stationary battery counts as a controllable load for the floor and the import cap. */
    batteryControllable: z.boolean().default(true),
    fallback: z
      .object({
        importLimitW: z
          .number()
          .nonnegative()
          .optional()
          .describe('Safe-mode site import limit, W (site.failsafeLimitW when omitted).'),
        exportLimitW: z.number().nonnegative().optional(),
        /** A source silent for this long counts as unreachable, ms. */
        sourceTimeoutMs: z.number().int().positive().default(120_000),
        /**
         * After a simple (HTTP/MQTT) limit ends without a successor, the fallback holds until the source speaks
         * again, at most this long, ms. OpenADR/OSCP sources are watched by their polls and heartbeats instead.
         */
        holdAfterEndMs: z.number().int().nonnegative().default(900_000),
      })
      .strict()
      .prefault({}),
    simple: z
      .object({
        enabled: z.boolean().default(true),
        /** MQTT topic for simple signals; `gridkeeper/<site>/grid/limit/set` when omitted. */
        mqttTopic: z.string().optional(),
        /** Longest accepted validity of one simple signal, ms. */
        maxDurationMs: z
          .number()
          .int()
          .positive()
          .default(24 * 3_600_000),
        /** SIMPLE level 0..3 → share of the site limit allowed. */
        levelFactors: z.array(z.number().min(0).max(1)).length(4).default([1, 0.75, 0.5, 0]),
      })
      .strict()
      .prefault({}),
    /** Seconds after a limit starts before non-compliance counts (the vehicles' response delay), ms. */
    responseGraceMs: z.number().int().nonnegative().default(5000),
    complianceToleranceW: z.number().nonnegative().default(200),
    vpp: z
      .object({
        enabled: z.boolean().default(true),
        /** Largest change of a battery/V2G set-point per second, W/s. */
        rampWPerS: z.number().positive().default(20_000),
        v2gMinSocPct: z.number().min(0).max(100).default(30),
        battery: BatteryVppSchema.optional(),
      })
      .strict()
      .prefault({}),
    openadr: OpenAdrSchema.prefault({}),
    oscp: OscpSchema.prefault({}),
    tariff: TariffSchema.prefault({}),
  })
  .strict();

export type GridConfig = z.infer<typeof GridSchema>;
export type TariffConfig = z.infer<typeof TariffSchema>;
export type OpenAdrConfig = z.infer<typeof OpenAdrSchema>;
export type OscpConfig = z.infer<typeof OscpSchema>;
