import { performance } from 'node:perf_hooks';
import { createListener, type Listener } from '../db/listener.ts';
import type { Logger } from '../lib/log.ts';

// What an API process authenticated, kept in memory: the row behind an API key or
// a session (with the creator's or user's membership, the user and the tenant),
// keyed by the SHA-256 of the credential. Without it every request cost a lookup
// plus the queries of what it served; /me was five statements (issue 19).
//
// Correctness comes from the database, not from a short lifetime: triggers notify
// AUTH_CHANGED_CHANNEL in every statement that revokes, deletes or changes what a
// kept row says (migration 0014), and every process drops all it keeps when the
// notification arrives, which is when the change commits. While the listening
// connection is down nothing is kept or served from memory (a notification could
// be missed), and a lookup that was under way when a notification arrived is not
// kept (it may have read the row before the change). The checks that depend on the
// time (expiry) and the role a key may use are made on every request from the kept
// row, never kept themselves.

export const AUTH_CHANGED_CHANNEL = 'ferry_auth';
export const AUTH_CACHE_APPLICATION = 'ferry-auth-cache';

export interface AuthCacheOptions {
  url: string;
  log: Logger;
  /** Most credentials kept; the least recently used go first. */
  maxEntries?: number;
  /** A kept row is read again after this long even without a notification. */
  maxAgeMs?: number;
  /** How long the listening connection may take to answer before it counts as gone. */
  syncTimeoutMs?: number;
}

export interface AuthCache {
  /**
   * The row kept for this credential, or what `load` reads (kept when found).
   * The row is shared: a caller may record use on it (last_used_at) for the next.
   */
  lookup<T extends object>(key: string, load: () => Promise<T | undefined>): Promise<T | undefined>;
  /** Whether rows are kept (the listening connection is up). */
  readonly active: boolean;
  /** How many rows are kept now. */
  readonly size: number;
  stop(): Promise<void>;
}

const DEFAULT_MAX_ENTRIES = 10_000;
const DEFAULT_MAX_AGE_MS = 60_000;

interface Entry {
  value: object;
  at: number;
}

export function createAuthCache(options: AuthCacheOptions): AuthCache {
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  const entries = new Map<string, Entry>();
  // Changes whenever what was read before may be wrong now.
  let generation = 0;
  const dropAll = () => {
    generation++;
    entries.clear();
  };
  const listener: Listener = createListener({
    url: options.url,
    channel: AUTH_CHANGED_CHANNEL,
    applicationName: AUTH_CACHE_APPLICATION,
    log: options.log.child({ component: 'auth-cache' }),
    onNotification: dropAll,
    onUp: dropAll,
    onDown: dropAll,
    ...(options.syncTimeoutMs ? { syncTimeoutMs: options.syncTimeoutMs } : {}),
  });
  listener.start();

  return {
    get active() {
      return listener.listening;
    },
    get size() {
      return entries.size;
    },
    async lookup<T extends object>(key: string, load: () => Promise<T | undefined>) {
      if (!listener.listening) return load();
      const now = performance.now();
      let kept = entries.get(key);
      if (kept) {
        // Whatever committed before this request (a revoke this client was just
        // told of, in this process or another) is handled first; requests that
        // arrive together share one round trip.
        const synced = await listener.sync().then(
          () => true,
          () => false,
        );
        if (!synced) return load();
        kept = entries.get(key);
      }
      if (kept && now - kept.at < maxAgeMs) {
        // Most recently used last: the Map's order is the eviction order.
        entries.delete(key);
        entries.set(key, kept);
        return kept.value as T;
      }
      const before = generation;
      const value = await load();
      if (value !== undefined && before === generation && listener.listening) {
        entries.delete(key);
        entries.set(key, { value, at: now });
        if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
      }
      return value;
    },
    async stop() {
      dropAll();
      await listener.stop();
    },
  };
}
