import type { Server } from 'node:http';
import type { Server as TlsServer } from 'node:https';
import type { Socket } from 'node:net';

export interface HandshakeGuardOptions {
  /** A socket that has not finished its WebSocket upgrade by then is destroyed, ms. */
  readonly timeoutMs: number;
  /** Most sockets still in their handshake; a new one beyond this evicts the oldest. */
  readonly maxPending: number;
  /** A socket was dropped: `timeout` (too slow) or `cap` (evicted for a newer one). */
  readonly onDropped?: (reason: 'timeout' | 'cap') => void;
  /**
   * `secureConnection` for a TLS server: its 'upgrade' hands over the TLS
   * socket, and the TLS handshake before it is bounded by the server's own
   * `handshakeTimeout`.
   */
  readonly event?: 'connection' | 'secureConnection';
}

export interface HandshakeGuard {
  /** The socket's upgrade is over (accepted, or refused and closed): it no longer counts. */
  settled(socket: Socket): void;
  /** Sockets still in their handshake (tests, metrics). */
  pending(): number;
  stop(): void;
}

/**
 * Bounds what unauthenticated sockets can hold. Node's http server only
 * checks `headersTimeout` for requests that have started and leaves a
 * socket that sends nothing (or half a request line) open for minutes, so
 * a few thousand half-open upgrades would sit on file descriptors and
 * memory. Every accepted TCP connection gets a deadline until its upgrade
 * is settled, and at most `maxPending` may be in that state: a newcomer
 * evicts the oldest, so an attacker's stale sockets go first while a real
 * charger, whose handshake takes milliseconds, still gets through.
 *
 * The deadlines run on real timers, not the injected clock: they guard
 * sockets, which live in real time (like ocpp-rpc's ping timers), and a
 * virtual clock jumping ahead must not cut a charger's handshake.
 */
export function guardHandshakes(server: Server | TlsServer, opts: HandshakeGuardOptions): HandshakeGuard {
  // Insertion order = age: the first entry is the oldest pending socket.
  const pending = new Map<Socket, NodeJS.Timeout>();

  const forget = (socket: Socket): void => {
    const timer = pending.get(socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    pending.delete(socket);
  };

  const drop = (socket: Socket, reason: 'timeout' | 'cap'): void => {
    forget(socket);
    opts.onDropped?.(reason);
    socket.destroy();
  };

  const onConnection = (socket: Socket): void => {
    while (pending.size >= opts.maxPending) {
      const oldest = pending.keys().next().value as Socket | undefined;
      if (!oldest) break;
      drop(oldest, 'cap');
    }
    const timer = setTimeout(() => drop(socket, 'timeout'), opts.timeoutMs);
    timer.unref();
    pending.set(socket, timer);
    socket.once('close', () => forget(socket));
  };
  const event = opts.event ?? 'connection';
  server.on(event, onConnection);

  return {
    settled: forget,
    pending: () => pending.size,
    stop() {
      server.off(event, onConnection);
      for (const t of pending.values()) clearTimeout(t);
      pending.clear();
    },
  };
}
