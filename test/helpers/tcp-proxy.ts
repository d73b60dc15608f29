import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';

// A TCP proxy in front of a real database server, to make its connections fail
// the ways networks and servers do: dropped (a restart, a reset) or silent (a
// partition: nothing passes, nothing closes). New connections always pass.

interface Pair {
  client: Socket;
  upstream: Socket;
  frozen: boolean;
}

export interface TcpProxy {
  host: string;
  port: number;
  /** Connections open now. */
  readonly open: number;
  /**
   * Resets every open connection on the client's side (RST, as a server that
   * restarts), and closes it on the server's side; resolves once they are gone.
   */
  drop(): Promise<void>;
  /**
   * Stops every open connection both ways without closing anything, as a network
   * partition: the server never hears that the client closed.
   */
  freeze(): void;
  close(): Promise<void>;
}

const closed = (socket: Socket) =>
  socket.destroyed
    ? Promise.resolve()
    : new Promise<void>((resolve) => socket.once('close', () => resolve()));

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    const pair: Pair = { client, upstream, frozen: false };
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      if (pair.frozen) return;
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) s.on('error', end).on('close', end);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as { port: number };
  return {
    host: '127.0.0.1',
    port: address.port,
    get open() {
      return pairs.size;
    },
    async drop() {
      const closing: Array<Promise<unknown>> = [];
      for (const pair of [...pairs]) {
        pair.frozen = false;
        closing.push(closed(pair.client), closed(pair.upstream));
        pair.client.resetAndDestroy();
        pair.upstream.destroy();
        pairs.delete(pair);
      }
      await Promise.all(closing);
    },
    freeze() {
      for (const pair of pairs) {
        pair.frozen = true;
        pair.client.unpipe(pair.upstream);
        pair.upstream.unpipe(pair.client);
        pair.client.pause();
        pair.upstream.pause();
      }
    },
    async close() {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
