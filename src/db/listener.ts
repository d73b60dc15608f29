import pg from 'pg';
import type { Logger } from '../lib/log.ts';

// One dedicated connection that LISTENs on a channel and stays up: on an error or
// a dropped connection it reconnects with a doubling backoff. Users are told when
// listening starts and stops, because a notification sent while nobody listened
// is lost: whoever relies on them must treat "down" as "anything may have changed".

export interface ListenerOptions {
  url: string;
  channel: string;
  /** The connection's application_name (pg_stat_activity). */
  applicationName: string;
  log: Logger;
  onNotification(payload: string): void;
  /** Listening (again): notifications sent from now on arrive. */
  onUp?(): void;
  /** Not listening any more: notifications may be missed until onUp. */
  onDown?(err: unknown): void;
  /** The first wait before reconnecting; it doubles up to maxReconnectMs. */
  reconnectMs?: number;
  maxReconnectMs?: number;
  /**
   * A sync round trip slower than this means the connection is gone without saying
   * so (a network partition: no reset, and TCP keepalive takes hours): it is ended
   * and made again, and the sync fails.
   */
  syncTimeoutMs?: number;
}

export interface Listener {
  readonly listening: boolean;
  /**
   * Resolves once every notification committed before the call has been handled:
   * a round trip on the listening connection, whose server sends the notifications
   * it was signalled before answering (a commit signals listeners before its own
   * client hears of it). Callers that arrive while one is on its way share the next.
   * Rejects when not listening.
   */
  sync(): Promise<void>;
  /** Connects (once; later calls do nothing). */
  start(): void;
  stop(): Promise<void>;
}

const DEFAULT_RECONNECT_MS = 250;
const DEFAULT_MAX_RECONNECT_MS = 15_000;
const DEFAULT_SYNC_TIMEOUT_MS = 2_000;

export function createListener(options: ListenerOptions): Listener {
  const firstDelay = options.reconnectMs ?? DEFAULT_RECONNECT_MS;
  const maxDelay = options.maxReconnectMs ?? DEFAULT_MAX_RECONNECT_MS;
  const timeoutMs = options.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS;
  let client: pg.Client | null = null;
  let listening = false;
  let started = false;
  let stopped = false;
  let delay = firstDelay;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let syncing: Promise<void> | null = null;
  let nextSync: Promise<void> | null = null;

  function roundTrip(): Promise<void> {
    const on = client;
    if (!on || !listening) return Promise.reject(new Error(`not listening on ${options.channel}`));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new Error(`no answer on the ${options.channel} connection within ${timeoutMs} ms`);
        lost(on, err);
        reject(err);
      }, timeoutMs);
    });
    const trip = Promise.race([on.query('SELECT 1').then(() => {}), timedOut]).finally(() =>
      clearTimeout(timer),
    );
    syncing = trip;
    const done = () => {
      if (syncing === trip) syncing = null;
    };
    trip.then(done, done);
    return trip;
  }

  function lost(from: pg.Client, err?: unknown): void {
    if (client !== from) return;
    client = null;
    const was = listening;
    listening = false;
    from.removeAllListeners('notification');
    void from.end().catch(() => {});
    if (stopped) return;
    if (was) options.onDown?.(err);
    options.log.warn({ err, channel: options.channel }, 'the listening connection was lost; reconnecting');
    reconnectTimer = setTimeout(connect, delay);
    reconnectTimer.unref();
    delay = Math.min(maxDelay, delay * 2);
  }

  async function connect(): Promise<void> {
    reconnectTimer = undefined;
    if (stopped) return;
    const next = new pg.Client({
      connectionString: options.url,
      application_name: options.applicationName,
      keepAlive: true,
    });
    client = next;
    // An error on this connection must never reach the process as an unhandled 'error' event.
    next.on('error', (err) => lost(next, err));
    next.on('end', () => lost(next));
    next.on('notification', (n) => {
      if (n.channel === options.channel) options.onNotification(n.payload ?? '');
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${options.channel}`);
    } catch (err) {
      lost(next, err);
      return;
    }
    if (client !== next) return;
    if (stopped) {
      await next.end().catch(() => {});
      return;
    }
    listening = true;
    delay = firstDelay;
    options.onUp?.();
  }

  return {
    get listening() {
      return listening;
    },
    sync() {
      if (nextSync) return nextSync;
      if (!syncing) return roundTrip();
      // One is on its way and may have been sent before this call: wait for the next.
      const after = syncing
        .catch(() => {})
        .then(() => {
          nextSync = null;
          return roundTrip();
        });
      nextSync = after;
      return after;
    },
    start() {
      if (started || stopped) return;
      started = true;
      void connect();
    },
    async stop() {
      stopped = true;
      clearTimeout(reconnectTimer);
      const last = client;
      client = null;
      listening = false;
      await last?.end().catch(() => {});
    },
  };
}
