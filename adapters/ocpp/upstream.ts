import { randomUUID } from 'node:crypto';
import { RPCClient } from 'ocpp-rpc';
import type { TimerHandle } from '../../src/model/clock.js';
import { Backoff } from '../../src/util/backoff.js';
import type { ChargerRef, LinkContext } from './context.js';
import { callWithId } from './rpc/call.js';
import type { OcppProtocol } from './rpc/protocol.js';
import { checkCall } from './rpc/schema.js';
import { Serial } from './serial.js';
import type { Payload } from './types.js';

type Ctx = Pick<LinkContext, 'cfg' | 'clock' | 'log' | 'readPem' | 'stats'>;

/** What the link does when the CMS connection changes or the CMS calls. */
export interface UpstreamEvents {
  /** A CALL from the CMS for the charger. */
  onCall(action: string, msgId: string, params: Payload): Promise<unknown>;
  /** The connection is up: send what the CMS is owed (awaited, so a charger's first calls queue behind it). */
  onOpen(client: RPCClient): Promise<void>;
  /** The connection dropped. */
  onLost(): void;
  /** Whether a dropped connection is worth reopening. */
  wantsReconnect(): boolean;
}

/**
 * One charger's connection to the CMS: same identity and subprotocol as the
 * charger, strict validation, TLS / Basic auth / client certificate, and
 * reconnect with jittered exponential back-off on the injected clock. Calls
 * upstream go one at a time (`call`).
 */
export class Upstream {
  private client?: RPCClient;
  private up = false;
  private stopped = false;
  private connecting?: Promise<void>;
  private reconnectTimer?: TimerHandle;
  private readonly backoff?: Backoff;
  /** Answers received from the CMS (liveness evidence for the replay's poison policy). */
  private answerCount = 0;
  /** The link was reopened because the CMS stopped answering: keep backing off until it answers again. */
  private stuck = false;
  private readonly serial = new Serial();

  constructor(
    private readonly charger: ChargerRef,
    private readonly protocol: OcppProtocol,
    private readonly ctx: Ctx,
    private readonly events: UpstreamEvents,
  ) {
    const up = ctx.cfg.upstream;
    if (up) {
      this.backoff = new Backoff({
        initialMs: up.reconnectMinMs,
        maxMs: Math.max(up.reconnectMinMs, up.reconnectMaxMs),
        jitter: 0.5,
      });
    }
  }

  get online(): boolean {
    return this.up;
  }

  get answers(): number {
    return this.answerCount;
  }

  /** Failed connects since the last success (tests, API). */
  get reconnectAttempts(): number {
    return this.backoff?.attempts ?? 0;
  }

  /** The open connection, or undefined while the CMS is unreachable. */
  get current(): RPCClient | undefined {
    return this.up ? this.client : undefined;
  }

  connect(): Promise<void> {
    const p = this.open().finally(() => {
      if (this.connecting === p) this.connecting = undefined;
    });
    this.connecting = p;
    return p;
  }

  /** While the CMS connection is being opened, wait for it (bounded) so a charger's first frames go upstream. */
  async settled(): Promise<void> {
    const c = this.connecting;
    if (!c || this.up) return;
    let timer: TimerHandle | undefined;
    await Promise.race([
      c,
      new Promise<void>((resolve) => {
        timer = this.ctx.clock.setTimeout(resolve, this.ctx.cfg.forwardTimeoutMs);
      }),
    ]);
    this.ctx.clock.clearTimeout(timer);
  }

  /** Call the CMS on `client` with the charger's message id, after the calls before it. */
  call(client: RPCClient, msgId: string, action: string, params: unknown, timeoutMs: number): Promise<unknown> {
    // Everything sent up is a charger frame checked where it arrived (replayed ones were checked before they were stored).
    return this.serial.run(() =>
      callWithId(client, msgId, action, params, { clock: this.ctx.clock, timeoutMs, checked: true }),
    );
  }

  /** The CMS answered a call: it is alive. */
  answered(): void {
    this.answerCount++;
    if (this.stuck) {
      this.stuck = false;
      this.backoff?.reset();
    }
  }

  /** The CMS stopped answering on `client`: drop it; the reconnect keeps backing off until it answers. */
  reopen(client: RPCClient): void {
    this.stuck = true;
    void client.close({ code: 1001, reason: 'no answer', force: true });
  }

  /** Close the connection without reconnecting (nothing left to deliver). */
  async release(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.up = false;
    await client?.close({ code: 1000, force: true });
  }

  /** Close for good (the link is closing). */
  async stop(code = 1001): Promise<void> {
    this.stopped = true;
    this.ctx.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const client = this.client;
    this.client = undefined;
    this.up = false;
    await client?.close({ code, force: true });
  }

  private async open(): Promise<void> {
    const up = this.ctx.cfg.upstream;
    if (!up || this.stopped) return;
    const client = this.createClient();
    this.client = client;
    client.on('close', () => {
      if (this.client !== client) return;
      const wasOnline = this.up;
      this.up = false;
      this.client = undefined;
      if (wasOnline) this.ctx.log.warn('CMS connection lost; serving locally');
      this.events.onLost();
      if (!this.stopped && this.events.wantsReconnect()) this.scheduleReconnect();
    });
    try {
      await client.connect();
    } catch (err) {
      if (this.client === client) {
        this.client = undefined;
        this.ctx.log.debug({ err: (err as Error).message }, 'CMS connect failed');
        if (!this.stopped) this.scheduleReconnect();
      }
      return;
    }
    if (this.client !== client || this.stopped) {
      await client.close({ force: true });
      return;
    }
    this.up = true;
    if (!this.stuck) this.backoff?.reset();
    this.ctx.stats.upstreamConnects++;
    this.ctx.log.info('CMS connection up');
    await this.events.onOpen(client);
  }

  private createClient(): RPCClient {
    const up = this.ctx.cfg.upstream;
    if (!up) throw new Error('no upstream configured');
    const password = up.passwords[this.charger.id] ?? up.password;
    const { readPem } = this.ctx;
    const client = new RPCClient({
      identity: this.charger.id,
      endpoint: up.url.replace(/\/+$/, ''),
      protocols: [this.protocol],
      // Frames are checked once, where they arrive (`rpc/schema.ts`), not again by ocpp-rpc on the way out.
      strictMode: false,
      reconnect: false,
      callTimeoutMs: up.callTimeoutMs,
      pingIntervalMs: up.pingIntervalMs,
      ...(password !== undefined ? { password } : {}),
      wsOpts: {
        // OCPP frames are small; a deflate context costs hundreds of KB per socket if a CMS accepts the offer.
        perMessageDeflate: false,
        maxPayload: this.ctx.cfg.maxFrameBytes,
        rejectUnauthorized: up.rejectUnauthorized,
        ...(up.ca ? { ca: readPem(up.ca) } : {}),
        ...(up.clientCert ? { cert: readPem(up.clientCert) } : {}),
        ...(up.clientKey ? { key: readPem(up.clientKey) } : {}),
      },
    } as ConstructorParameters<typeof RPCClient>[0]);
    // One handler for every action (a handler per action costs a map of closures per socket); the CMS's calls are
    // checked against the schema here, once (`rpc/schema.ts`), and passed on to the charger unchecked.
    client.handle(({ method = '', messageId, params }) => {
      checkCall(this.protocol, method, params);
      return this.events.onCall(method, messageId ?? randomUUID(), (params ?? {}) as Payload) as Promise<Payload>;
    });
    // Failures surface as 'close'; without listeners these events would throw.
    client.on('error', () => {});
    client.on('socketError', () => {});
    return client;
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || !this.backoff) return;
    const delay = this.backoff.next();
    this.reconnectTimer = this.ctx.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, delay);
  }
}
