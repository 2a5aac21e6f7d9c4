import type { Clock } from '../../src/model/clock.js';
import type { CommandResult, OcppCommands } from '../../src/ports/ocpp.js';
import type { OcppProtocol } from './rpc/protocol.js';
import type { Payload, V16, V201 } from './types.js';

export type { CommandResult, OcppCommands };

/** How commands reach a charger: its subprotocol (if connected) and a gateway-originated call. */
export interface CommandTarget {
  protocolOf(chargerId: string): OcppProtocol | undefined;
  send(chargerId: string, action: string, payload: Payload): Promise<Payload>;
  /** The transaction id the charger knows for a session (sessions have the gateway's own ids). */
  transactionOf?(sessionId: string): string | undefined;
}

/** The API's commands in each charger's OCPP version. */
export function createCommands(target: CommandTarget, clock: Clock): OcppCommands {
  async function command(chargerId: string, action: string, payload: object): Promise<CommandResult> {
    try {
      const res = await target.send(chargerId, action, payload as Payload);
      const status = res.status === 'Accepted' ? 'Accepted' : res.status === 'Rejected' ? 'Rejected' : 'Unknown';
      return { status, data: res };
    } catch (err) {
      return { status: 'Rejected', detail: (err as Error).message };
    }
  }
  const is16 = (chargerId: string) => target.protocolOf(chargerId) === 'ocpp1.6';

  return {
    remoteStart: ({ chargerId, connectorId, idTag }) => {
      if (is16(chargerId)) {
        const req: V16.RemoteStartTransactionRequest = { idTag, ...(connectorId ? { connectorId } : {}) };
        return command(chargerId, 'RemoteStartTransaction', req);
      }
      const req: V201.RequestStartTransactionRequest = {
        idToken: { idToken: idTag, type: 'Central' },
        remoteStartId: Math.floor(clock.now() / 1000) % 2_000_000_000,
        ...(connectorId ? { evseId: connectorId } : {}),
      };
      return command(chargerId, 'RequestStartTransaction', req);
    },
    remoteStop: ({ sessionId, chargerId, transactionId }) => {
      const tx =
        transactionId ??
        target.transactionOf?.(sessionId) ??
        (sessionId.startsWith(`${chargerId}-`) ? sessionId.slice(chargerId.length + 1) : sessionId);
      if (is16(chargerId)) {
        const req: V16.RemoteStopTransactionRequest = { transactionId: Number(tx) };
        return command(chargerId, 'RemoteStopTransaction', req);
      }
      const req: V201.RequestStopTransactionRequest = { transactionId: tx };
      return command(chargerId, 'RequestStopTransaction', req);
    },
    setAvailability: ({ chargerId, connectorId, available }) => {
      const type = available ? 'Operative' : 'Inoperative';
      if (is16(chargerId)) {
        const req: V16.ChangeAvailabilityRequest = { connectorId: connectorId ?? 0, type };
        return command(chargerId, 'ChangeAvailability', req);
      }
      const req: V201.ChangeAvailabilityRequest = {
        operationalStatus: type,
        ...(connectorId ? { evse: { id: connectorId } } : {}),
      };
      return command(chargerId, 'ChangeAvailability', req);
    },
  };
}
