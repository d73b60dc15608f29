import type { Deps } from '../modules/deps.ts';
import { msUntilNextDue } from '../modules/schedules/repo.ts';
import { fireDueSchedules } from './claim-due.ts';

// The scheduler process's loop: fire what is due, then sleep until the next
// schedule is due by the database's clock (never longer than the configured
// interval, so new and edited schedules are seen). A full batch means more is
// due: go again at once.

export const SCHEDULER_BATCH = 500;

export interface SchedulerLoop {
  stop(): Promise<void>;
}

export function startSchedulerLoop(deps: Deps, batch = SCHEDULER_BATCH): SchedulerLoop {
  let running = true;
  let wake: (() => void) | null = null;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const loop = (async () => {
    let failures = 0;
    while (running) {
      try {
        const result = await fireDueSchedules(deps, batch);
        failures = 0;
        if (result.queued + result.skipped > 0)
          deps.log.info(
            { claimed: result.claimed, queued: result.queued, skipped: result.skipped },
            'schedules fired',
          );
        if (result.claimed >= batch) continue;
        const until = await msUntilNextDue(deps.db);
        const interval = deps.config.schedulerIntervalMs;
        await sleep(until === null ? interval : Math.max(5, Math.min(interval, Math.ceil(until))));
      } catch (err) {
        // The database went away or a statement failed: the transaction rolled back, nothing was fired twice.
        failures++;
        deps.log.error({ err }, 'scheduler tick failed');
        await sleep(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)));
      }
    }
  })();
  return {
    async stop() {
      running = false;
      wake?.();
      await loop;
    },
  };
}
