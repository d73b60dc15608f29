import { createListener } from '../../db/listener.ts';
import type { Logger } from '../../lib/log.ts';
import { RUN_CHANGED_CHANNEL } from './repo.ts';

// The source of run events (GET /runs/{id}/events) for every stream this process
// serves. A stream used to poll the database twice a second: 400 open streams were
// 3,200 queries a second, and every tenant's requests queued behind them. Now one
// dedicated connection LISTENs for the ids of runs that changed (writers pg_notify
// them in the statement that changes the run, delivered when it commits: repo.ts),
// and a run that anyone follows is re-read once per burst of notifications, however
// many streams follow it. While that connection is down the followed runs are re-read
// on a slow poll, one reader for all, and it reconnects with backoff.

export interface RunEventsOptions {
  url: string;
  log: Logger;
  /** The listening connection's application_name (default RUN_EVENTS_APPLICATION). */
  applicationName?: string;
  /** Open streams allowed at once per user or API key (in this process). */
  maxStreamsPerPrincipal: number;
  /** While not listening: how often the followed runs are re-read. */
  pollMs?: number;
  /** The first wait before reconnecting; it doubles up to maxReconnectMs. */
  reconnectMs?: number;
  maxReconnectMs?: number;
}

/** The listening connection's application_name (pg_stat_activity). */
export const RUN_EVENTS_APPLICATION = 'ferry-run-events';

export interface RunEvents {
  readonly maxStreamsPerPrincipal: number;
  /** Takes one of the principal's stream slots: the release function, or null when all are in use. */
  reserve(principal: string): (() => void) | null;
  /**
   * Calls deliver with the run as `load` reads it after each change, until the returned
   * function is called. All followers of one run share one read (the first follower's
   * load); a new follower causes one read too, so a change just before it joined is not missed.
   */
  follow<T>(runId: string, load: () => Promise<T>, deliver: (value: T) => void): () => void;
  /** Whether the LISTEN connection is up (otherwise the slow poll serves). */
  readonly listening: boolean;
  stop(): Promise<void>;
}

const DEFAULT_POLL_MS = 5_000;

interface FollowedRun {
  load: () => Promise<unknown>;
  followers: Set<(value: unknown) => void>;
  reading: boolean;
  /** Changed again while being read: read once more when this read ends. */
  again: boolean;
}

export function createRunEvents(options: RunEventsOptions): RunEvents {
  const log = options.log.child({ component: 'run-events' });
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  const runs = new Map<string, FollowedRun>();
  const slots = new Map<string, number>();
  const pending = new Set<string>();
  let started = false;
  let stopped = false;
  let flushQueued = false;
  let pollTimer: NodeJS.Timeout | undefined;

  async function read(id: string, run: FollowedRun): Promise<void> {
    run.reading = true;
    do {
      run.again = false;
      try {
        const value = await run.load();
        for (const deliver of run.followers) deliver(value);
      } catch (err) {
        // The next notification, or the poll, reads it again.
        log.warn({ err, runId: id }, 'could not read a followed run');
      }
    } while (run.again && !stopped && runs.get(id) === run);
    run.reading = false;
  }

  // Notifications that arrive together (one network read) are coalesced into one read per run.
  function flush(): void {
    flushQueued = false;
    for (const id of pending) {
      const run = runs.get(id);
      if (!run) continue;
      if (run.reading) run.again = true;
      else void read(id, run);
    }
    pending.clear();
  }

  function changed(ids: Iterable<string>): void {
    for (const id of ids) if (runs.has(id)) pending.add(id);
    if (pending.size > 0 && !flushQueued && !stopped) {
      flushQueued = true;
      setImmediate(flush);
    }
  }

  function setPolling(on: boolean): void {
    if (on && !pollTimer && !stopped) {
      pollTimer = setInterval(() => changed(runs.keys()), pollMs);
      pollTimer.unref();
    } else if (!on && pollTimer) {
      clearInterval(pollTimer);
      pollTimer = undefined;
    }
  }

  const listener = createListener({
    url: options.url,
    channel: RUN_CHANGED_CHANNEL,
    applicationName: options.applicationName ?? RUN_EVENTS_APPLICATION,
    log,
    reconnectMs: options.reconnectMs,
    maxReconnectMs: options.maxReconnectMs,
    onNotification: (id) => {
      if (id) changed([id]);
    },
    onUp: () => {
      setPolling(false);
      // Whatever changed while nobody listened.
      changed(runs.keys());
    },
    onDown: () => setPolling(true),
  });

  function start(): void {
    if (started || stopped) return;
    started = true;
    // Until the first LISTEN is up, the poll serves.
    setPolling(true);
    listener.start();
  }

  return {
    maxStreamsPerPrincipal: options.maxStreamsPerPrincipal,
    get listening() {
      return listener.listening;
    },
    reserve(principal) {
      const open = slots.get(principal) ?? 0;
      if (open >= options.maxStreamsPerPrincipal) return null;
      slots.set(principal, open + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (slots.get(principal) ?? 1) - 1;
        if (left > 0) slots.set(principal, left);
        else slots.delete(principal);
      };
    },
    follow(runId, load, deliver) {
      start();
      let run = runs.get(runId);
      if (!run) {
        run = { load, followers: new Set(), reading: false, again: false };
        runs.set(runId, run);
      }
      // Every follower of a run is given what the run's one load returns: the same T.
      const follower = deliver as (value: unknown) => void;
      run.followers.add(follower);
      changed([runId]);
      const followed = run;
      return () => {
        followed.followers.delete(follower);
        if (followed.followers.size === 0 && runs.get(runId) === followed) runs.delete(runId);
      };
    },
    async stop() {
      stopped = true;
      setPolling(false);
      runs.clear();
      pending.clear();
      await listener.stop();
    },
  };
}
