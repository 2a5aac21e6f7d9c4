import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';

interface MediaType {
  schema?: unknown;
}
interface Operation {
  responses?: Record<string, { content?: Record<string, MediaType> }>;
}
type Doc = { paths: Record<string, Record<string, Operation>> };

/** The documented path a concrete URL path answers under (static segments beat parameters). */
function matchPath(doc: Doc, path: string): string | undefined {
  const candidates = Object.keys(doc.paths).filter((p) =>
    new RegExp(`^${p.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}/?$`).test(path),
  );
  candidates.sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0));
  return candidates[0];
}

/**
 * Make every `app.inject()` answer prove itself against the OpenAPI document the same app serves:
 * the status must be documented for the operation and a JSON body must match the documented
 * schema of its media type. A mismatch rejects the inject with what differs, so the test fails.
 */
export function checkResponsesAgainstOpenApi(app: FastifyInstance): void {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  const compiled = new Map<string, ValidateFunction>();
  const original = app.inject.bind(app) as (o: InjectOptions | string) => Promise<LightMyRequestResponse>;

  const check = async (o: InjectOptions | string, res: LightMyRequestResponse) => {
    await app.ready();
    const doc = app.swagger() as unknown as Doc;
    const method = (typeof o === 'string' ? 'GET' : (o.method ?? 'GET')).toLowerCase();
    const rawUrl = typeof o === 'string' ? o : typeof o.url === 'string' ? o.url : (o.path ?? '/');
    const path = String(rawUrl).split('?')[0] ?? '/';
    const where = `${method.toUpperCase()} ${path} → ${res.statusCode}`;
    const ct =
      String(res.headers['content-type'] ?? '')
        .split(';')[0]
        ?.trim() ?? '';
    // The reference UI (swagger-ui and its assets) is not part of the API it describes.
    if (path === '/docs' || path.startsWith('/docs/')) return;
    const docPath = matchPath(doc, path);
    const op = docPath ? doc.paths[docPath]?.[method] : undefined;
    if (!op) {
      // Unknown routes and methods answer problem+json and nothing else.
      if (![404, 405].includes(res.statusCode) || ct !== 'application/problem+json') {
        throw new Error(`${where}: no documented operation, yet answered ${ct}`);
      }
      return;
    }
    const documented = op.responses?.[String(res.statusCode)] ?? op.responses?.default;
    if (!documented) throw new Error(`${where}: status not documented in /api/v1/openapi.json`);
    if (!documented.content || res.body === '') {
      if (res.body !== '' && documented.content === undefined)
        throw new Error(`${where}: body where none is documented`);
      return;
    }
    const media = documented.content[ct] ?? documented.content[`${ct.split('/')[0]}/*`] ?? documented.content['*/*'];
    if (!media) {
      throw new Error(`${where}: content type ${ct} not documented (${Object.keys(documented.content).join(', ')})`);
    }
    if (!/json$/.test(ct) || media.schema === undefined) return;
    const key = `${method} ${docPath} ${res.statusCode} ${ct}`;
    let validate = compiled.get(key);
    if (!validate) {
      validate = ajv.compile(media.schema as object);
      compiled.set(key, validate);
    }
    if (!validate(JSON.parse(res.body))) {
      throw new Error(`${where}: body disagrees with the document: ${ajv.errorsText(validate.errors)}`);
    }
  };

  (app as unknown as { inject: unknown }).inject = (o?: InjectOptions | string) => {
    if (o === undefined) return (original as unknown as () => unknown)();
    return original(o).then(async (res) => {
      await check(o, res);
      return res;
    });
  };
}
