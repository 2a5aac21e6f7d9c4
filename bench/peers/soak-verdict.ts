/**
 * The kill soak's verdict, from the CMS's own record (what it received, the
 * transaction ids it issued) held against what each charger sent and had
 * confirmed. A charger message is found at the CMS by its charger and its
 * own timestamp (unique per charger), never by anything the gateway adds.
 *
 * Only the messages the CMS must see are judged (StartTransaction,
 * MeterValues, StopTransaction, StatusNotification); Boot, Authorize and
 * Heartbeat are answered locally while the CMS is away and need not reach it.
 */
import type { ChargerSession, SentCall } from './soak-charger.js';
import { stampOf } from './soak-charger.js';
import type { CmsReceipt, IssuedTx } from './soak-cms.js';

export const MUST_REACH = new Set(['StartTransaction', 'MeterValues', 'StopTransaction', 'StatusNotification']);

export interface ChargerRecord {
  readonly id: string;
  readonly calls: readonly SentCall[];
  readonly sessions: readonly ChargerSession[];
}

export interface SoakVerdict {
  /** Must-reach messages the chargers sent / had confirmed by the gateway. */
  readonly sent: number;
  readonly acked: number;
  /** Sent but never confirmed by the end (a charger stuck on a call). */
  readonly unconfirmed: number;
  /** Confirmed to the charger, never seen by the CMS. */
  readonly lost: number;
  /** MeterValues / StopTransaction at the CMS with a transaction id it did not issue for that session. */
  readonly wrongId: number;
  readonly wrongIdSessions: number;
  readonly sessions: number;
  /** Sessions whose charger got a transaction id the CMS did not issue (started while the CMS was away). */
  readonly offlineSessions: number;
  readonly offlineSessionsWithWrongId: number;
  /** Sessions whose StartTransaction the CMS never got. */
  readonly sessionsUnknownToCms: number;
  /** The same charger message again under a message id the CMS had not seen for it (cannot be told apart). */
  readonly duplicateNewId: number;
  /** The same, by action. */
  readonly duplicateNewIdByAction: Readonly<Record<string, number>>;
  /** The same charger message again under the same message id (a CMS can drop it). */
  readonly duplicateSameId: number;
  /** First arrivals at the CMS that came after a later message of the same charger. */
  readonly outOfOrder: number;
  /** Must-reach calls at the CMS that no charger sent. */
  readonly foreign: number;
  /** A few concrete cases of each failure, for the report. */
  readonly examples: readonly string[];
}

const key = (chargerId: string, stamp: string) => `${chargerId}\u0000${stamp}`;

export function judge(
  chargers: readonly ChargerRecord[],
  receipts: readonly CmsReceipt[],
  issued: ReadonlyMap<number, IssuedTx>,
): SoakVerdict {
  const examples: string[] = [];
  const note = (kind: string, text: string) => {
    if (examples.filter((e) => e.startsWith(kind)).length < 4) examples.push(`${kind}: ${text}`);
  };
  const sentBy = new Map<string, SentCall>();
  const startOf = new Map<string, string>(); // charger + session index → start stamp
  let sent = 0;
  let acked = 0;
  let unconfirmed = 0;
  for (const c of chargers) {
    for (const s of c.sessions) startOf.set(`${c.id}\u0000${s.index}`, s.startStamp);
    for (const call of c.calls) {
      if (!MUST_REACH.has(call.action) || call.stamp === undefined) continue;
      sent++;
      if (call.acked) acked++;
      else {
        unconfirmed++;
        note('unconfirmed', `${c.id} ${call.action} ${call.msgId} (${call.tries} tries, ${call.errors} errors)`);
      }
      sentBy.set(key(c.id, call.stamp), call);
    }
  }

  const idsSeen = new Map<string, Set<string>>();
  const lastSeq = new Map<string, number>();
  const wrongSessions = new Set<string>();
  let wrongId = 0;
  let duplicateNewId = 0;
  const duplicateNewIdByAction: Record<string, number> = {};
  let duplicateSameId = 0;
  let outOfOrder = 0;
  let foreign = 0;
  for (const r of receipts) {
    if (!MUST_REACH.has(r.action)) continue;
    const stamp = stampOf(r.action, r.payload);
    const k = stamp === undefined ? undefined : key(r.chargerId, stamp);
    const call = k === undefined ? undefined : sentBy.get(k);
    if (k === undefined || call === undefined) {
      foreign++;
      note('foreign', `${r.chargerId} ${r.action} ${r.msgId} ${JSON.stringify(r.payload).slice(0, 120)}`);
      continue;
    }
    const ids = idsSeen.get(k);
    if (ids) {
      if (ids.has(r.msgId)) duplicateSameId++;
      else {
        duplicateNewId++;
        duplicateNewIdByAction[r.action] = (duplicateNewIdByAction[r.action] ?? 0) + 1;
        note(
          'duplicate-new-id',
          `${r.chargerId} ${r.action} at the CMS as ${[...ids].join(', ')}, again as ${r.msgId}`,
        );
      }
      ids.add(r.msgId);
    } else {
      idsSeen.set(k, new Set([r.msgId]));
      const last = lastSeq.get(r.chargerId) ?? -1;
      if (call.seq < last) {
        outOfOrder++;
        note('out-of-order', `${r.chargerId} ${r.action} ${call.msgId} arrived after seq ${last}`);
      }
      lastSeq.set(r.chargerId, Math.max(last, call.seq));
    }
    if (r.action === 'MeterValues' || r.action === 'StopTransaction') {
      const tx = Number(r.payload.transactionId);
      const got = issued.get(tx);
      const start = startOf.get(`${r.chargerId}\u0000${call.session}`);
      if (got?.chargerId !== r.chargerId || got.startStamp !== start) {
        wrongId++;
        wrongSessions.add(`${r.chargerId}\u0000${call.session}`);
        const why = got ? `issued for ${got.chargerId} start ${got.startStamp}` : 'never issued by the CMS';
        note('wrong-id', `${r.chargerId} ${r.action} ${r.msgId} session ${call.session}: transactionId ${tx} ${why}`);
      }
    }
  }

  let lost = 0;
  for (const [k, call] of sentBy) {
    if (!call.acked || idsSeen.has(k)) continue;
    lost++;
    note('lost', `${k.split('\u0000')[0]} ${call.action} ${call.msgId} (session ${call.session})`);
  }

  const startsAtCms = new Set<string>();
  for (const t of issued.values()) startsAtCms.add(key(t.chargerId, t.startStamp));
  let sessions = 0;
  let offlineSessions = 0;
  let offlineSessionsWithWrongId = 0;
  let sessionsUnknownToCms = 0;
  for (const c of chargers) {
    for (const s of c.sessions) {
      sessions++;
      const byCms = issued.get(s.txId);
      const offline = !(byCms?.chargerId === c.id && byCms.startStamp === s.startStamp);
      if (offline) offlineSessions++;
      if (offline && wrongSessions.has(`${c.id}\u0000${s.index}`)) offlineSessionsWithWrongId++;
      if (!startsAtCms.has(key(c.id, s.startStamp))) sessionsUnknownToCms++;
    }
  }
  return {
    sent,
    acked,
    unconfirmed,
    lost,
    wrongId,
    wrongIdSessions: wrongSessions.size,
    sessions,
    offlineSessions,
    offlineSessionsWithWrongId,
    sessionsUnknownToCms,
    duplicateNewId,
    duplicateNewIdByAction,
    duplicateSameId,
    outOfOrder,
    foreign,
    examples,
  };
}
