import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigSchema, type GatewayConfig } from './schema.js';

export interface ConfigError {
  /** Dotted path with array indices, e.g. `site.circuits[2].maxCurrentA`. */
  readonly path: string;
  readonly message: string;
}

export type ConfigResult = { ok: true; config: GatewayConfig } | { ok: false; errors: ConfigError[] };

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out || '(root)';
}

/** Replace `${VAR}` (and `${VAR:-default}`) in every string; missing variables are errors with their path. */
export function substituteEnv(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  errors: ConfigError[],
  path: PropertyKey[] = [],
): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, def?: string) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (def !== undefined) return def;
      errors.push({ path: formatPath(path), message: `environment variable ${name} is not set` });
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, errors, [...path, i]));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, env, errors, [...path, k]);
    return out;
  }
  return value;
}

function zodMessage(issue: z.core.$ZodIssue): string {
  // zod's defaults read "Invalid input: expected number, received string"; keep the useful half.
  return issue.message.replace(/^Invalid input: /, '');
}

/** Validate an already-parsed object. Every error is returned, never only the first. */
export function validateConfig(
  raw: unknown,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ConfigResult {
  const errors: ConfigError[] = [];
  const substituted = substituteEnv(raw, env, errors);
  const parsed = ConfigSchema.safeParse(substituted);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) errors.push({ path: formatPath([...issue.path, key]), message: 'unknown key' });
      } else {
        errors.push({ path: formatPath(issue.path), message: zodMessage(issue) });
      }
    }
  }
  if (errors.length > 0 || !parsed.success) return { ok: false, errors };
  return { ok: true, config: parsed.data };
}

/** Parse YAML text; syntax errors are reported with line and column. */
export function parseConfigText(
  text: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ConfigResult {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => ({
        path: e.linePos ? `line ${e.linePos[0].line}:${e.linePos[0].col}` : '(yaml)',
        message: e.message.split('\n')[0] ?? e.message,
      })),
    };
  }
  return validateConfig(doc.toJS() ?? {}, env);
}

export function loadConfigFile(
  file: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ConfigResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ok: false, errors: [{ path: file, message: (err as Error).message }] };
  }
  return parseConfigText(text, env);
}

export function formatErrors(errors: readonly ConfigError[]): string {
  return errors.map((e) => `${e.path}: ${e.message}`).join('\n');
}
