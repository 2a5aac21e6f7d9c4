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
  const payload = { ...row.payload };
  if (row.protocol !== 'ocpp1.6') {
    if (row.action === 'TransactionEvent' && row.offline) payload.offline = true;
    return { payload };
  }
  const tx = payload.transactionId;
  if (typeof tx !== 'number' || (row.action !== 'StopTransaction' && row.action !== 'MeterValues')) {
    return { payload };
  }
  const up = outbox.upstreamTx(row.chargerId, tx);
  if (up !== undefined) {
    payload.transactionId = up;
  } else if (tx >= FIRST_LOCAL_TX_ID && outbox.isLocalTx(row.chargerId, tx)) {
    // Its StartTransaction was delivered or parked without the CMS accepting it: no id to give.
    if (row.action === 'MeterValues') delete payload.transactionId;
    else return { poison: `transaction ${tx} was never accepted by the CMS` };
  }
  return { payload };
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
