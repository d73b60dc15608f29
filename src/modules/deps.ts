import type { Config } from '../config.ts';
import type { Db } from '../db/db.ts';
import type { Mailer } from '../delivery/email.ts';
import type { DemoStatus } from '../demo/build.ts';
import type { Storage } from '../engine/storage/storage.ts';
import type { Queue } from '../jobs/queue.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import type { SecretBox } from '../lib/secrets.ts';
import type { AuthCache } from './auth-cache.ts';
import type { SourceRegistry } from './connections/sources.ts';
import type { RunEvents } from './runs/events.ts';
import type { RunOutcomeListener } from './runs/lifecycle.ts';

/** What services need from the outside world, wired once in app/context.ts. */
export interface Deps {
  db: Db;
  queue: Queue;
  clock: Clock;
  log: Logger;
  secrets: SecretBox;
  config: Readonly<Config>;
  sources: SourceRegistry;
  storage: Storage;
  mailer: Mailer;
  /** Told how each run ended, in the transaction that ends it (schedules; deliveries next). */
  runOutcomeListeners: readonly RunOutcomeListener[];
  /** Serves run event streams (one LISTEN connection per process); absent where no API is served. */
  runEvents?: RunEvents | undefined;
  /** Principals this process authenticated, dropped when the database says they changed; absent where no API is served. */
  authCache?: AuthCache | undefined;
  /** The demo dataset: preparing in the background on a first start, then ready. */
  demo?: DemoStatus | undefined;
}
