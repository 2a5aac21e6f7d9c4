import type { Clock } from '../../src/model/clock.js';
import type { OcppProtocol } from './rpc/protocol.js';
import type { V16, V201 } from './types.js';

type Json = Record<string, unknown>;

export interface AuthoriseRequest {
  readonly idTag: string;
  readonly chargerId: string;
  readonly connectorId?: number;
}

export interface AuthoriserAnswer {
  readonly status: 'Accepted' | 'Blocked' | 'Expired' | 'Invalid';
  /** `remote` when the authoriser itself decided; anything else is its own fallback (cache, local list, ...). */
  readonly source: string;
}

/** The proxy's view of an external authoriser (payment app, fleet tool). */
export type AuthoriseHook = (req: AuthoriseRequest) => Promise<AuthoriserAnswer | undefined>;

/**
 * Which answer a charger gets when an external authoriser is configured
 * (documented choice):
 *
 * - CMS answered (online): the CMS's answer, except that a refusal
 *   (`Blocked`, `Expired`, `Invalid`) the authoriser itself gave
 *   (`source: 'remote'`) replaces a CMS `Accepted`. A payment app can thus
 *   stop a driver the CMS would let in (no funds, blocked card), but cannot
 *   let in a driver the CMS refuses; the authoriser's own fallback answers
 *   (it could not reach its service) never overrule the CMS.
 * - CMS unreachable (offline): the authoriser's answer, whatever its source
 *   (its configured fallback included: it is the operator's choice for this
 *   case); without one, the proxy's local list, its cache of CMS answers and
 *   `unknownIdTags` decide as before.
 *
 * The authoriser is asked in parallel with the CMS, so it adds no latency
 * while it answers faster than the CMS.
 */
export function mergeAuthorisation(
  protocol: OcppProtocol,
  response: Json,
  answer: AuthoriserAnswer | undefined,
  fromCms: boolean,
): Json {
  if (!answer) return response;
  const key = protocol === 'ocpp1.6' ? 'idTagInfo' : 'idTokenInfo';
  const info = response[key] as Json | undefined;
  if (fromCms) {
    const refuses = answer.source === 'remote' && answer.status !== 'Accepted';
    // A CMS that already refuses (or says nothing about the token) keeps its answer.
    if (!refuses || info?.status !== 'Accepted') return response;
  }
  if (info?.status === answer.status) return response;
  return { ...response, [key]: { ...(info ?? {}), status: answer.status } };
}

/**
 * The authoriser's answer within `timeoutMs` on the injected clock, else
 * undefined (errors too). `inFlight` holds a way to give up early (the
 * link closing), so no timer outlives the proxy.
 */
export function askAuthoriser(
  hook: AuthoriseHook,
  req: AuthoriseRequest,
  opts: {
    clock: Clock;
    timeoutMs: number;
    onError: (err: unknown) => void;
    inFlight: Set<() => void>;
  },
): Promise<AuthoriserAnswer | undefined> {
  const { clock, onError, inFlight } = opts;
  return new Promise((resolve) => {
    let done = false;
    const finish = (a: AuthoriserAnswer | undefined) => {
      if (done) return;
      done = true;
      clock.clearTimeout(timer);
      inFlight.delete(giveUp);
      resolve(a);
    };
    const giveUp = () => finish(undefined);
    inFlight.add(giveUp);
    const timer = clock.setTimeout(giveUp, opts.timeoutMs);
    let p: Promise<AuthoriserAnswer | undefined>;
    try {
      p = hook(req);
    } catch (err) {
      onError(err);
      finish(undefined);
      return;
    }
    p.then(
      (a) => finish(a && VALID.has(a.status) ? a : undefined),
      (err) => {
        onError(err);
        finish(undefined);
      },
    );
  });
}

const VALID: ReadonlySet<string> = new Set(['Accepted', 'Blocked', 'Expired', 'Invalid']);

/** The idTag / idToken a charger presents in a call, if any (1.6 Authorize, StartTransaction; 2.x Authorize, TransactionEvent). */
export function presentedToken(
  protocol: OcppProtocol,
  action: string,
  p: Json,
): { idTag: string; connectorId?: number } | undefined {
  if (protocol === 'ocpp1.6') {
    if (action !== 'Authorize' && action !== 'StartTransaction') return undefined;
    const req = p as Partial<V16.AuthorizeRequest & V16.StartTransactionRequest>;
    if (typeof req.idTag !== 'string') return undefined;
    return { idTag: req.idTag, ...(typeof req.connectorId === 'number' ? { connectorId: req.connectorId } : {}) };
  }
  if (action !== 'Authorize' && action !== 'TransactionEvent') return undefined;
  const req = p as Partial<V201.AuthorizeRequest & V201.TransactionEventRequest>;
  const tok = req.idToken?.idToken;
  if (typeof tok !== 'string' || tok === '') return undefined;
  const evse = req.evse?.id;
  return { idTag: tok, ...(typeof evse === 'number' ? { connectorId: evse } : {}) };
}
