/** A charger asks whether an idTag may charge (OCPP Authorize / StartTransaction). */
export interface AuthoriseRequest {
  readonly idTag: string;
  readonly chargerId: string;
  readonly connectorId?: number;
}

/** The external service's answer. */
export interface RemoteAuthorisation {
  readonly status: 'Accepted' | 'Blocked' | 'Expired' | 'Invalid';
  readonly vehicleId?: string;
}

/**
 * The payment app or fleet tool that decides who may charge, as the
 * integration layer sees it. Rejects when the service gives no valid answer
 * in time; the caller's fallback (cache, local list) decides then.
 */
export interface AuthoriserClient {
  ask(req: AuthoriseRequest): Promise<RemoteAuthorisation>;
}
