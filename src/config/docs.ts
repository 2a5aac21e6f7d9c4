import { z } from 'zod';
import { ConfigSchema } from './schema.js';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.anyOf) return s.anyOf.map(typeOf).join(' \\| ');
  if (s.type === 'array') return `${s.items ? typeOf(s.items) : 'any'}[]`;
  return Array.isArray(s.type) ? s.type.join(' \\| ') : (s.type ?? 'any');
}

function walk(s: JsonSchema, path: string, required: boolean, rows: string[]): void {
  if (path) {
    const bounds = [
      s.minimum !== undefined ? `≥ ${s.minimum}` : '',
      s.exclusiveMinimum !== undefined ? `> ${s.exclusiveMinimum}` : '',
      s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER ? `≤ ${s.maximum}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    const def = s.default !== undefined && typeof s.default !== 'object' ? `\`${JSON.stringify(s.default)}\`` : '';
    rows.push(
      `| \`${path}\` | ${typeOf(s)}${bounds ? ` (${bounds})` : ''} | ${required && s.default === undefined ? 'yes' : ''} | ${def} | ${(s.description ?? '').replace(/\n/g, ' ')} |`,
    );
  }
  if (s.properties) {
    for (const [k, v] of Object.entries(s.properties))
      walk(v, path ? `${path}.${k}` : k, s.required?.includes(k) ?? false, rows);
  }
  if (s.type === 'array' && s.items?.properties) {
    for (const [k, v] of Object.entries(s.items.properties)) {
      walk(v, `${path}[].${k}`, s.items.required?.includes(k) ?? false, rows);
    }
  }
}

/** The configuration reference, generated from the one zod schema. */
export function configReferenceMarkdown(): string {
  const schema = z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const rows: string[] = [];
  walk(schema, '', true, rows);
  return [
    '# Configuration reference',
    '',
    'Generated from the zod schema in `src/config/` by `gridkeeper config-docs`; do not edit by hand.',
    'Strings may contain `${ENV_VAR}` (or `${ENV_VAR:-default}`); use it for every secret.',
    '',
    '| key | type | required | default | description |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
