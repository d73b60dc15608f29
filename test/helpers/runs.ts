import { call, type TestApp } from './app.ts';
import { waitFor } from './time.ts';

// biome-ignore lint/suspicious/noExplicitAny: the run as the API answers it, which tests inspect field by field
type Run = any;

const finished = (run: Run) => !['queued', 'running'].includes(run.status);

/** Polls a run through the API until `until(run)` holds (default: it has finished); returns the run. */
export async function waitForRun(
  t: TestApp,
  key: string,
  id: string,
  until: (run: Run) => boolean = finished,
  budgetMs = 60_000,
): Promise<Run> {
  let last: Run;
  return waitFor(
    () => `run ${id} (last seen ${last?.status}: ${JSON.stringify(last)})`,
    async () => {
      last = (await call(t, { url: `/api/v1/runs/${id}`, key })).body;
      return until(last) && last;
    },
    budgetMs,
    50,
  );
}
