import { type AddressInfo, createServer } from 'node:net';
import { Aedes } from 'aedes';

export interface EmbeddedBroker {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The demo's broker: aedes (in-memory persistence) on a plain TCP server.
 * Production sites usually point the gateway at their own broker instead.
 */
export async function startEmbeddedBroker(host: string, port: number): Promise<EmbeddedBroker> {
  const aedes = await Aedes.createBroker();
  const server = createServer((socket) => aedes.handle(socket));
  // A client that resets its socket must not take the broker down.
  aedes.on('clientError', () => {});
  aedes.on('connectionError', () => {});
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    throw err;
  }
  const bound = (server.address() as AddressInfo).port;
  return {
    host,
    port: bound,
    close: async () => {
      // aedes first: it disconnects its clients, so server.close() does not wait on them.
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
