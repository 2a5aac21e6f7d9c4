import { z } from 'zod';

export const ApiKeyConfigSchema = z
  .object({
    name: z.string().min(1).describe('Who the key belongs to (shown in the audit log).'),
    key: z
      .string()
      .min(16)
      .optional()
      .describe('The key itself; use an environment variable reference, never a literal.'),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'hex SHA-256 of the key')
      .optional()
      .describe('Hex SHA-256 of the key, so the key itself never sits in the file.'),
    scopes: z
      .array(z.enum(['read', 'control', 'admin']))
      .min(1)
      .describe('read: GET; control: commands and webhooks; admin: keys. Each implies the ones before.'),
  })
  .strict()
  .refine((k) => (k.key === undefined) !== (k.sha256 === undefined), {
    message: 'give exactly one of key or sha256',
  });

export const ApiSchema = z
  .object({
    host: z
      .string()
      .default('127.0.0.1')
      .describe('Listen address; keep 127.0.0.1 unless a reverse proxy or firewall protects it.'),
    port: z.number().int().min(0).max(65535).default(8080),
    anonymousRead: z.boolean().default(false).describe('Allow GET requests without an API key.'),
    allowUnauthenticated: z
      .boolean()
      .default(false)
      .describe(
        'Say yes explicitly to `anonymousRead` on an address beyond localhost (check-config refuses it otherwise).',
      ),
    keys: z
      .array(ApiKeyConfigSchema)
      .default([])
      .describe('Keys from the config (more via `gridkeeper keys create` or POST /api/v1/keys).'),
    events: z
      .object({
        retain: z.number().int().min(100).default(10_000).describe('Live events kept for resuming clients.'),
        clientBufferBytes: z
          .number()
          .int()
          .min(16_384)
          .default(1_048_576)
          .describe('Unsent bytes a live-event client may lag behind before it is cut off with a resume hint.'),
        heartbeatMs: z.number().int().min(1000).default(15_000),
      })
      .strict()
      .prefault({}),
    dashboard: z.boolean().default(true).describe('Serve the operator dashboard at `/`.'),
  })
  .strict();

export type ApiConfig = z.infer<typeof ApiSchema>;
export type ApiKeyConfig = z.infer<typeof ApiKeyConfigSchema>;
