import { z } from 'zod';

const TlsSchema = z
  .object({
    cert: z.string().min(1).describe('PEM certificate (chain) or a path to a PEM file.'),
    key: z.string().min(1).describe('PEM private key or a path to a PEM file.'),
    ca: z.string().optional().describe('PEM CA bundle (or path) used to verify peers.'),
  })
  .strict();

const UpstreamSchema = z
  .object({
    url: z.string().url().describe('CMS base URL (ws:// or wss://); the charger id is appended.'),
    username: z.string().optional().describe('Unused by OCPP-J (the user is the charger id); kept for clarity.'),
    password: z
      .string()
      .optional()
      .describe('Basic-auth password towards the CMS for every charger (use an environment variable).'),
    passwords: z
      .record(z.string(), z.string())
      .default({})
      .describe('Per-charger Basic-auth passwords towards the CMS, by charger id.'),
    ca: z.string().optional().describe('PEM CA bundle (or path) trusted for wss:// (self-signed CMS).'),
    clientCert: z.string().optional().describe('Client certificate PEM or path (security profile 3).'),
    clientKey: z.string().optional().describe('Client key PEM or path (security profile 3).'),
    rejectUnauthorized: z.boolean().default(true),
    reconnectMinMs: z.number().int().positive().default(1000).describe('First reconnect delay, ms.'),
    reconnectMaxMs: z.number().int().positive().default(300_000).describe('Longest reconnect delay, ms.'),
    callTimeoutMs: z.number().int().positive().default(30_000).describe('Wait for a CMS answer, ms.'),
    pingIntervalMs: z.number().int().nonnegative().default(30_000).describe('WebSocket ping interval (0 = off), ms.'),
  })
  .strict();

export const OcppSchema = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(9000),
    path: z.string().default('/ocpp').describe('Chargers connect to ws://host:port<path>/<chargePointId>.'),
    unknownChargers: z
      .enum(['accept', 'reject'])
      .default('reject')
      .describe('Chargers not listed in `chargers`: accepted with default specs (and logged) or refused (404).'),
    securityProfile: z
      .union([z.literal(0), z.literal(1), z.literal(2)])
      .default(0)
      .describe('0: no auth; 1: Basic auth; 2: TLS + Basic auth (needs `tls`).'),
    allowUnauthenticated: z
      .boolean()
      .default(false)
      .describe(
        'Say yes explicitly to securityProfile 0 on an address beyond localhost (check-config refuses it otherwise).',
      ),
    tls: TlsSchema.optional().describe('Server certificate for security profile 2 (wss://).'),
    unknownChargerPassword: z
      .string()
      .optional()
      .describe('Basic-auth password for accepted unknown chargers under profile 1/2.'),
    upstream: UpstreamSchema.optional(),
    gatewayProfileStackLevel: z.number().int().min(0).default(9).describe('Stack level owned by the gateway.'),
    gatewayProfileId: z
      .number()
      .int()
      .positive()
      .default(900_000)
      .describe('Charging profile id of the gateway max profile (per-connector profiles add the connector id).'),
    maxFrameBytes: z.number().int().positive().default(65_536).describe('Largest WebSocket frame accepted, bytes.'),
    forwardTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(5_000)
      .describe('How long a charger waits for the CMS before the gateway answers locally, ms.'),
    heartbeatIntervalS: z.number().int().positive().default(300).describe('Interval given in local boot answers, s.'),
    pingIntervalMs: z
      .number()
      .int()
      .nonnegative()
      .default(30_000)
      .describe('Charger-side WebSocket ping (0 = off), ms.'),
    callTimeoutMs: z.number().int().positive().default(30_000).describe('Wait for a charger answer, ms.'),
    handshakeTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(5_000)
      .describe('A charger socket that has not finished its WebSocket upgrade by then is closed, ms.'),
    maxPendingHandshakes: z
      .number()
      .int()
      .positive()
      .default(1_000)
      .describe('Sockets allowed in their handshake at once; a new one beyond this closes the oldest.'),
    cmsLinkLoss: z
      .enum(['serveLocally', 'closeChargers'])
      .default('serveLocally')
      .describe(
        "When a charger's CMS connection drops or cannot be opened: keep serving the charger locally (queue, local answers), or close its socket as an OCPP 2.0.1/2.1 Part 4 Local Controller does.",
      ),
    thread: z
      .enum(['worker', 'main'])
      .default('worker')
      .describe(
        "Where the proxy runs: in its own worker thread (its event loop and heap apart from the control loop's, so control rounds, telemetry writes and the main heap's GC do not delay charger messages), or on the main thread. A gateway on a virtual clock (tests, scenarios) or an in-memory store always runs it on the main thread, and says so in its log.",
      ),
    mainThreadNice: z
      .number()
      .int()
      .min(0)
      .max(19)
      .default(10)
      .describe(
        "With `thread: worker`: the niceness the gateway's main thread (control loop, API, telemetry) takes once the proxy's thread runs, so that on a busy machine a charger message gets a CPU before a control round does (Linux; the proxy's thread and the process's other threads keep theirs). 0 leaves it.",
      ),
    localAuthList: z.array(z.string()).default([]).describe('idTags always accepted when the CMS is unreachable.'),
    unknownIdTags: z
      .enum(['accept', 'reject'])
      .default('accept')
      .describe('Offline answer for idTags neither in the local list nor in the cache.'),
    replay: z
      .object({
        maxAttempts: z
          .number()
          .int()
          .positive()
          .default(5)
          .describe('CALLERRORs before a message is parked as poison (it never blocks the queue).'),
        maxTimeouts: z
          .number()
          .int()
          .positive()
          .default(10)
          .describe('Unanswered sends (CMS link reopened after each) before a message is parked.'),
        batchMeterValues: z
          .number()
          .int()
          .min(1)
          .max(1000)
          .default(1)
          .describe(
            'Replay up to this many queued MeterValues of one connector and transaction as one frame (1 = one frame each, as sent).',
          ),
        retryMinMs: z.number().int().positive().default(1000),
        retryMaxMs: z.number().int().positive().default(60_000),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.securityProfile === 2 && !o.tls) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'required for securityProfile 2 (TLS)' });
    }
    if (o.upstream && (o.upstream.clientCert === undefined) !== (o.upstream.clientKey === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstream', 'clientKey'],
        message: 'clientCert and clientKey go together',
      });
    }
  });

export type OcppConfig = z.infer<typeof OcppSchema>;
