import type { LinkContext } from './context.js';
import { type AuthStatus, localAnswer } from './messages.js';
import type { OcppProtocol } from './rpc/protocol.js';
import type { Payload, V16 } from './types.js';

const STATUSES_16: ReadonlySet<string> = new Set(['Accepted', 'Blocked', 'Expired', 'Invalid', 'ConcurrentTx']);

type Ctx = Pick<LinkContext, 'cfg' | 'clock' | 'outbox'>;

/**
 * The gateway's own answers to a charger while the CMS cannot answer:
 * offline authorisation (local list, then the cache of CMS answers, then the
 * configured unknown-id policy) and the answers of `messages.ts`.
 */
export class LocalAnswers {
  constructor(
    private readonly protocol: OcppProtocol,
    private readonly ctx: Ctx,
  ) {}

  /** The local answer to a call, or undefined when there is none (the charger then gets a CALLERROR). */
  answer(action: string, params: Payload): Payload | undefined {
    return localAnswer(this.protocol, action, params, {
      now: this.ctx.clock.now(),
      heartbeatIntervalS: this.ctx.cfg.heartbeatIntervalS,
      authorise: (tag: string) => this.authorise(tag),
    });
  }

  /** 1.6 StartTransaction answered with a gateway-issued transaction id. */
  start16(params: V16.StartTransactionRequest, txId: number): V16.StartTransactionResponse {
    return { transactionId: txId, idTagInfo: { status: this.authorise(String(params.idTag ?? '')) as Status16 } };
  }

  /** Offline authorisation: local list, then the cache of CMS answers, then the configured unknown-id policy. */
  authorise(idTag: string): AuthStatus {
    if (this.ctx.cfg.localAuthList.includes(idTag)) return 'Accepted';
    const cached = this.ctx.outbox.authStatus(idTag);
    if (cached) {
      // The cache is shared by chargers of every version; 2.x-only statuses (NoCredit, ...) mean "no" in 1.6.
      if (this.protocol === 'ocpp1.6' && !STATUSES_16.has(cached)) return 'Invalid';
      return cached as AuthStatus;
    }
    return this.ctx.cfg.unknownIdTags === 'accept' ? 'Accepted' : 'Invalid';
  }
}

type Status16 = V16.StartTransactionResponse['idTagInfo']['status'];
