import type { EventEmitter } from 'node:events';
import { guardBytes } from './byte-guard.ts';
import { ReadLimitError } from './types.ts';

// How Ferry stops a statement on a source server, whatever the reason: a cancel,
// a deadline (preview or run), a lost lease, shutdown, or a connection that failed
// mid-read. Closing Ferry's socket alone is not enough: a server busy with a
// statement (an aggregate, a lock wait) notices only when it next writes, and a
// close that never reaches it (a dropped network) leaves the session there for
// good. So: the server's own cancel over a connection of its own, then the
// connection is closed; if the session is still on the server after a grace
// period, it is ended through another connection of its own.

/** One server session, as its engine stops it. */
export interface SessionControl {
  /** Asks the server to stop the running statement (PostgreSQL cancel request, MySQL KILL QUERY). */
  cancel(): Promise<void>;
  /** Drops Ferry's connection at once (no goodbye that waits for the server). */
  close(): void;
  /**
   * Ends the session on the server if it is still there (pg_terminate_backend,
   * KILL CONNECTION); `sinceMs`: how long ago the stop began.
   */
  terminate(sinceMs: number): Promise<void>;
}

/** How long a session may take to go after its cancel and close, before it is ended. */
export const STOP_GRACE_MS = 5_000;
/** The most any one step may take: an unreachable server is not waited for. */
export const STOP_STEP_MS = 5_000;

export interface SessionStops {
  /** Starts stopping a session; it goes on in the background. */
  stop(session: SessionControl): void;
  /** Skips what is left of every pending grace period and waits until every stop has ended (closing a source). */
  flush(): Promise<void>;
}

const withinStep = (step: Promise<void>): Promise<void> =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, STOP_STEP_MS);
    timer.unref();
    step.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      () => {
        // Best effort: a server that cannot be reached has nothing running to stop.
        clearTimeout(timer);
        resolve();
      },
    );
  });

export function sessionStops(graceMs = STOP_GRACE_MS): SessionStops {
  const pending = new Set<{ hurry: () => void; done: Promise<void> }>();
  return {
    stop(session) {
      const began = performance.now();
      let hurry = () => {};
      const graceOver = new Promise<void>((resolve) => {
        // Unreferenced: a pending grace never keeps a finished process alive.
        const timer = setTimeout(resolve, graceMs);
        timer.unref();
        hurry = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      const entry = {
        hurry: () => hurry(),
        done: (async () => {
          await withinStep(session.cancel());
          session.close();
          await graceOver;
          await withinStep(session.terminate(performance.now() - began));
        })()
          .catch(() => {})
          .finally(() => pending.delete(entry)),
      };
      pending.add(entry);
    },
    async flush() {
      const all = [...pending];
      for (const p of all) p.hurry();
      await Promise.all(all.map((p) => p.done));
    },
  };
}

/** One read on a checked-out connection, from its start until it ends or is stopped. */
export interface TrackedRead {
  /**
   * The step's outcome, or the reason the read was stopped first: drivers do not
   * always settle a pending step when its connection goes (pg-cursor between the
   * last row and ReadyForQuery, a mysql2 streaming query).
   */
  whileOpen<T>(step: Promise<T>): Promise<T>;
  /** Calls `fn` with the reason when the read is stopped. */
  onStop(fn: (reason: unknown) => void): void;
  /** Stops the read with `reason`; its session is stopped on the server. */
  stop(reason: unknown): void;
  /** Ends tracking without stopping anything on the server; false when it had ended already. */
  end(): boolean;
  readonly ended: boolean;
  /** Why the read was stopped, if it was. */
  readonly stoppedBy: unknown;
}

export interface TrackOptions {
  signal: AbortSignal;
  stops: SessionStops;
  session: SessionControl;
  /** The driver's connection: its 'error' or 'end' during the read means the connection went. */
  connection: EventEmitter;
  /** The error a read fails with when its connection goes (`err` as the driver gave it, if it did). */
  lost: (err?: unknown) => Error;
  /** The connection's socket and ReadLimits.maxBytes (byte-guard.ts). */
  socket: EventEmitter | undefined;
  maxBytes: number;
  /** Reads in progress, by the function that stops them (for the source's close()). */
  reading: Set<() => void>;
}

/**
 * Tracks a read: aborting the signal, more than maxBytes arriving, or the
 * connection going stops it, as can the caller (stop) or the source closing.
 */
export function trackRead(o: TrackOptions): TrackedRead {
  let ended = false;
  let stoppedBy: unknown;
  const listeners: Array<(reason: unknown) => void> = [];
  const stopped = Promise.withResolvers<never>();
  stopped.promise.catch(() => {});
  const end = (): boolean => {
    if (ended) return false;
    ended = true;
    o.reading.delete(onClose);
    o.signal.removeEventListener('abort', onAbort);
    o.connection.off('error', onLost);
    o.connection.off('end', onLost);
    unguard();
    return true;
  };
  const stop = (reason: unknown) => {
    if (!end()) return;
    stoppedBy = reason;
    o.stops.stop(o.session);
    stopped.reject(reason);
    for (const fn of listeners) fn(reason);
  };
  const onAbort = () => stop(o.signal.reason);
  const onClose = () => stop(new Error('The data source was closed'));
  const onLost = (err?: unknown) => stop(o.lost(err));
  const unguard = guardBytes(o.socket, o.maxBytes, () => stop(new ReadLimitError(o.maxBytes)));
  o.reading.add(onClose);
  o.signal.addEventListener('abort', onAbort, { once: true });
  o.connection.on('error', onLost);
  o.connection.on('end', onLost);
  return {
    // A step that settles as the read is stopped (the last bytes that crossed the limit) fails too.
    whileOpen: async <T>(step: Promise<T>) => {
      const value = await Promise.race([step, stopped.promise]);
      if (stoppedBy !== undefined) throw stoppedBy;
      return value;
    },
    onStop: (fn) => void listeners.push(fn),
    stop,
    end,
    get ended() {
      return ended;
    },
    get stoppedBy() {
      return stoppedBy;
    },
  };
}
