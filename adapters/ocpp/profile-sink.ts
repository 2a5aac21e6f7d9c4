import type { Setpoint } from '../../src/model/decision.js';
import { evseId } from '../../src/model/site.js';
import type { ChargerRef, LinkContext } from './context.js';
import type { EvseObserver } from './observer.js';
import { cmsCapA, dischargeProfileId, gatewayProfile, isCmsMaxProfile, isDischarge } from './profiles.js';
import type { OcppProtocol } from './rpc/protocol.js';
import type { Payload, V16, V201 } from './types.js';

type Ctx = Pick<LinkContext, 'cfg' | 'clock' | 'log' | 'outbox' | 'voltageV'> & Partial<Pick<LinkContext, 'bus'>>;
type ToCharger = (action: string, params: Payload) => Promise<unknown>;
type ClearRequest = V16.ClearChargingProfileRequest | V201.ClearChargingProfileRequest;

/**
 * The gateway's charging profile on one charger: the site's set-point
 * written as the gateway-owned max profile (README "Gateway set-points"),
 * merged with a max profile the CMS sets (the stricter wins, kept across
 * restarts), and the V2G discharge profile cleared when charging resumes.
 */
export class ProfileSink {
  private readonly lastSetpoints = new Map<number, Setpoint>();
  /**
   * EVSEs on which a gateway discharge (V2G) profile may be in force. A
   * bidirectional 2.1 charger starts with all of them: a profile written
   * before a gateway restart is unknown, so the first charging set-point clears it.
   */
  private readonly dischargeProfiles = new Set<number>();
  private cmsCap?: number;

  constructor(
    private readonly charger: ChargerRef,
    private readonly protocol: OcppProtocol,
    private readonly observer: EvseObserver,
    private readonly toCharger: ToCharger,
    private readonly ctx: Ctx,
  ) {}

  start(): void {
    // A CMS max profile outlives gateway restarts: the charger only holds the merged one.
    this.cmsCap = this.ctx.outbox.cmsCap(this.charger.id)?.capA;
    this.publishCmsCap();
    if (this.protocol === 'ocpp2.1' && this.charger.spec.bidirectional) {
      for (let c = 1; c <= this.charger.spec.connectors; c++) this.dischargeProfiles.add(c);
    }
  }

  /** Write the gateway's profile for a set-point; resolves only when the charger answers Accepted. */
  async applySetpoint(sp: Setpoint): Promise<void> {
    const connectorId = Number(sp.evseId.split('/')[1] ?? 1);
    const connectors = this.observer.connectors;
    const { action, payload } = gatewayProfile(sp, {
      protocol: this.protocol,
      connectors,
      connectorId,
      stackLevel: this.ctx.cfg.gatewayProfileStackLevel,
      profileId: this.ctx.cfg.gatewayProfileId,
      now: this.ctx.clock.now(),
      ...(this.cmsCap !== undefined ? { capA: this.cmsCap } : {}),
    });
    // Gateway-originated: sent on the charger socket only, own message id, answer never forwarded.
    const res = (await this.toCharger(action, payload)) as { status?: string };
    if (res.status !== 'Accepted') {
      throw new Error(`${this.charger.id}: SetChargingProfile ${res.status ?? 'refused'}`);
    }
    if (isDischarge(this.protocol, sp)) {
      this.dischargeProfiles.add(connectorId);
    } else if (this.dischargeProfiles.has(connectorId)) {
      // A single-EVSE charger charges under the station max profile (EVSE 0) but feeds in under a
      // TxDefaultProfile on its EVSE: that one would stay in force (and keep discharging) unless cleared.
      // With several EVSEs both use the same id on the EVSE, so the write above already replaced it.
      if (connectors <= 1) await this.clearDischargeProfile(connectorId);
      this.dischargeProfiles.delete(connectorId);
    }
    this.lastSetpoints.set(connectorId, sp);
  }

  /**
   * A CMS SetChargingProfile / ClearChargingProfile: a CMS max profile is
   * merged here instead of passed through; anything else goes to the
   * charger (`passThrough`) and the gateway's own profile is rewritten if
   * a clear may have removed it.
   */
  async fromCms(action: string, params: Payload, passThrough: () => Promise<unknown>): Promise<unknown> {
    if (action === 'SetChargingProfile' && isCmsMaxProfile(this.protocol, params)) {
      return this.mergeCmsMaxProfile(params);
    }
    const clear = action === 'ClearChargingProfile' ? (params as ClearRequest) : undefined;
    if (clear && this.clearsCmsMax(clear)) {
      // The CMS's max profile only ever lived in the gateway (merged): clearing it lifts the merge.
      this.cmsCap = undefined;
      this.ctx.outbox.setCmsCap(this.charger.id, undefined, this.ctx.clock.now());
      this.publishCmsCap();
      await this.reapply().catch(() => {});
      if (!this.isClearAll(clear)) return { status: 'Accepted' };
    }
    const res = await passThrough();
    if (clear && (res as { status?: string }).status === 'Accepted') {
      // A broad clear may have removed the gateway's own profile: write it again.
      void this.reapply().catch(() => {});
    }
    return res;
  }

  private async clearDischargeProfile(connectorId: number): Promise<void> {
    const res = (await this.toCharger('ClearChargingProfile', {
      chargingProfileId: dischargeProfileId(this.ctx.cfg.gatewayProfileId, connectorId),
    })) as { status?: string };
    // Unknown: no such profile (already gone, e.g. the charger rebooted). Anything else: retried with the set-point.
    if (res.status !== 'Accepted' && res.status !== 'Unknown') {
      throw new Error(`${this.charger.id}: ClearChargingProfile of the discharge profile ${res.status ?? 'refused'}`);
    }
  }

  private isClearAll(p: ClearRequest): boolean {
    if (this.protocol === 'ocpp1.6') {
      const q = p as V16.ClearChargingProfileRequest;
      return (
        q.id === undefined &&
        q.connectorId === undefined &&
        q.chargingProfilePurpose === undefined &&
        q.stackLevel === undefined
      );
    }
    const q = p as V201.ClearChargingProfileRequest;
    return q.chargingProfileId === undefined && q.chargingProfileCriteria === undefined;
  }

  /** Whether a CMS ClearChargingProfile targets the CMS's own max profile (by purpose, by id, or everything). */
  private clearsCmsMax(p: ClearRequest): boolean {
    const stored = this.ctx.outbox.cmsCap(this.charger.id)?.payload;
    if (this.cmsCap === undefined && !stored) return false;
    if (this.isClearAll(p)) return true;
    if (this.protocol === 'ocpp1.6') {
      const q = p as V16.ClearChargingProfileRequest;
      const id = (stored as V16.SetChargingProfileRequest | undefined)?.csChargingProfiles?.chargingProfileId;
      return q.chargingProfilePurpose === 'ChargePointMaxProfile' || (q.id !== undefined && q.id === id);
    }
    const q = p as V201.ClearChargingProfileRequest;
    const id = (stored as V201.SetChargingProfileRequest | undefined)?.chargingProfile?.id;
    const purpose = q.chargingProfileCriteria?.chargingProfilePurpose;
    return purpose === 'ChargingStationMaxProfile' || (q.chargingProfileId !== undefined && q.chargingProfileId === id);
  }

  /**
   * The CMS sets a station max profile: the charger honours only one such
   * profile, so the gateway keeps the CMS's current limit and writes the
   * minimum of it and the site's set-point into its own profile.
   */
  private async mergeCmsMaxProfile(params: Payload): Promise<V16.SetChargingProfileResponse> {
    const now = this.ctx.clock.now();
    this.cmsCap = cmsCapA(this.protocol, params, now, this.charger.spec.phases, this.ctx.voltageV);
    this.ctx.outbox.setCmsCap(
      this.charger.id,
      this.cmsCap !== undefined ? { capA: this.cmsCap, payload: params } : undefined,
      now,
    );
    this.ctx.log.info({ chargerId: this.charger.id, capA: this.cmsCap }, 'CMS max profile merged with the site limit');
    this.publishCmsCap();
    const ok = await this.reapply().then(
      () => true,
      () => false,
    );
    return { status: ok ? 'Accepted' : 'Rejected' };
  }

  /**
   * The CMS cap is an input of the arbiter (its `cms` tier), not only merged here: the allocator then
   * gives this charger no more than it may take, the rest to the others, and names the CMS profile.
   */
  private publishCmsCap(): void {
    const what = this.protocol === 'ocpp1.6' ? 'ChargePointMaxProfile' : 'ChargingStationMaxProfile';
    this.ctx.bus?.emit('cms.limit', {
      chargerId: this.charger.id,
      ...(this.cmsCap !== undefined ? { capA: this.cmsCap } : {}),
      ts: this.ctx.clock.now(),
      what,
    });
  }

  private async reapply(): Promise<void> {
    const sps = [...this.lastSetpoints.values()];
    if (sps.length === 0 && this.cmsCap !== undefined) {
      const { phases } = this.charger.spec;
      sps.push({
        evseId: evseId(this.charger.id, 1),
        currentA: this.cmsCap,
        powerW: this.cmsCap * phases * this.ctx.voltageV,
        phases,
        reasons: [],
      });
    }
    for (const sp of sps) await this.applySetpoint(sp);
  }
}
