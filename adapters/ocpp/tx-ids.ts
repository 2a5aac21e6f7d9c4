import type { OcppOutbox } from './outbox.js';
import type { OutboxRow } from './outbox-row.js';
import type { OcppProtocol } from './rpc/protocol.js';
import type { Payload } from './types.js';

/** 1.6 transaction ids the gateway issues itself start here (never -1 or 0; seeded by `ocpp-002-tx-map`). */
export const FIRST_LOCAL_TX_ID = 1_000_000_001;

/**
 * A queued charger message as the CMS must see it, the one place where
 * transaction ids are translated on the way up: 1.6 ids the gateway issued
 * while the CMS was away become the CMS's own (every message of a charger
 * goes through the ordered outbox, so the StartTransaction that tells the
 * CMS's id is always delivered before the messages that need it); 2.x
 * keeps the charger's ids and seqNo and flags what was queued offline.
 * A message whose id the CMS can never know is parked, so the queue moves on.
 */
export function toCms(row: OutboxRow, outbox: OcppOutbox): { payload: Payload } | { poison: string } {
  // The row's payload is copied only when something in it changes (most messages go up as they came).
  const p = row.payload;
  if (row.protocol !== 'ocpp1.6') {
    if (row.action === 'TransactionEvent' && row.offline) return { payload: { ...p, offline: true } };
    return { payload: p };
  }
  const tx = p.transactionId;
  if (typeof tx !== 'number' || (row.action !== 'StopTransaction' && row.action !== 'MeterValues')) {
    return { payload: p };
  }
  // Only ids the gateway issued (all from FIRST_LOCAL_TX_ID up) have a CMS id of their own.
  if (tx < FIRST_LOCAL_TX_ID) return { payload: p };
  const up = outbox.upstreamTx(row.chargerId, tx);
  if (up !== undefined) return { payload: { ...p, transactionId: up } };
  if (outbox.isLocalTx(row.chargerId, tx)) {
    // Its StartTransaction was delivered or parked without the CMS accepting it: no id to give.
    if (row.action !== 'MeterValues') return { poison: `transaction ${tx} was never accepted by the CMS` };
    const { transactionId: _gone, ...rest } = p;
    return { payload: rest };
  }
  return { payload: p };
}

/**
 * A CMS call to a 1.6 charger that names a transaction by the CMS's id:
 * the charger knows the id the gateway gave it while the CMS was away.
 * `chargerTxOf` finds the charger's id of an open session the CMS knows
 * under `cmsTxId` (undefined: the ids are the same, pass through).
 */
export function toCharger(
  protocol: OcppProtocol,
  action: string,
  params: Payload,
  chargerTxOf: (cmsTxId: number) => number | undefined,
): Payload {
  if (protocol !== 'ocpp1.6') return params;
  if (action === 'RemoteStopTransaction' && typeof params.transactionId === 'number') {
    const tx = chargerTxOf(params.transactionId);
    return tx === undefined ? params : { ...params, transactionId: tx };
  }
  if (action === 'SetChargingProfile') {
    const prof = params.csChargingProfiles as Payload | undefined;
    if (prof && typeof prof.transactionId === 'number') {
      const tx = chargerTxOf(prof.transactionId);
      if (tx !== undefined) return { ...params, csChargingProfiles: { ...prof, transactionId: tx } };
    }
  }
  return params;
}
