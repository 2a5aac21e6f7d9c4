import type { Clock } from '../../src/model/clock.js';
import type { Json, OcppVersion } from '../devices/ocpp/wire.js';

/** A 1.6 transaction as the CMS issued and closed it. */
export interface CmsTransaction {
  readonly id: number;
  readonly identity: string;
  readonly idTag: string;
  readonly connectorId: number;
  readonly meterStart: number;
  meterStop?: number;
  stopped: boolean;
  /** StopTransactions received for it (under distinct message ids): more than 1 is a duplicated stop. */
  stops: number;
}

/** A 2.x transaction as the CMS saw its events (the charger issues 2.x ids). */
export interface CmsTransactionV2 {
  readonly id: string;
  readonly identity: string;
  /** seqNo of every event received, in order. */
  readonly seqNos: number[];
  ended: boolean;
}

export interface CmsBookOptions {
  readonly clock: Clock;
  readonly firstTransactionId?: number;
  readonly invalidIdTags?: readonly string[];
}

/**
 * The CMS's business answers, as a real CSMS gives them: accepts boots,
 * authorises (a configured list of idTags is Invalid), issues its own 1.6
 * transaction ids and books starts, stops and 2.x transaction events.
 * No sockets here.
 */
export class CmsBook {
  readonly transactions = new Map<number, CmsTransaction>();
  readonly transactionsV2 = new Map<string, CmsTransactionV2>();
  private nextTx: number;

  constructor(private readonly opts: CmsBookOptions) {
    this.nextTx = opts.firstTransactionId ?? 1;
  }

  answer(identity: string, protocol: OcppVersion, action: string, p: Json): Json {
    const v16 = protocol === 'ocpp1.6';
    switch (action) {
      case 'BootNotification':
        return { status: 'Accepted', currentTime: this.now(), interval: 300 };
      case 'Heartbeat':
        return { currentTime: this.now() };
      case 'Authorize':
        return v16
          ? { idTagInfo: { status: this.auth(p.idTag) } }
          : { idTokenInfo: { status: this.auth((p.idToken as Json | undefined)?.idToken) } };
      case 'StartTransaction':
        return this.start(identity, p);
      case 'StopTransaction': {
        const tx = this.transactions.get(p.transactionId as number);
        if (tx) {
          tx.stopped = true;
          tx.stops++;
          tx.meterStop = p.meterStop as number;
        }
        return {};
      }
      case 'TransactionEvent':
        return this.txEvent(identity, p);
      case 'NotifyEVChargingNeeds':
      case 'DataTransfer':
        return { status: 'Accepted' };
      default:
        // StatusNotification, MeterValues, FirmwareStatusNotification, NotifyReport, ...: an empty confirmation.
        return {};
    }
  }

  private start(identity: string, p: Json): Json {
    const id = this.nextTx++;
    this.transactions.set(id, {
      id,
      identity,
      idTag: String(p.idTag),
      connectorId: p.connectorId as number,
      meterStart: p.meterStart as number,
      stopped: false,
      stops: 0,
    });
    return { transactionId: id, idTagInfo: { status: this.auth(p.idTag) } };
  }

  private txEvent(identity: string, p: Json): Json {
    const id = String((p.transactionInfo as Json | undefined)?.transactionId ?? '');
    let tx = this.transactionsV2.get(id);
    if (!tx) {
      tx = { id, identity, seqNos: [], ended: false };
      this.transactionsV2.set(id, tx);
    }
    tx.seqNos.push(Number(p.seqNo));
    if (p.eventType === 'Ended') tx.ended = true;
    const tag = (p.idToken as Json | undefined)?.idToken;
    return tag !== undefined ? { idTokenInfo: { status: this.auth(tag) } } : {};
  }

  private auth(tag: unknown): string {
    return (this.opts.invalidIdTags ?? []).includes(String(tag)) ? 'Invalid' : 'Accepted';
  }

  private now(): string {
    return new Date(this.opts.clock.now()).toISOString();
  }
}
