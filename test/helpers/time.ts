// Time budgets in tests, and the one way tests wait for a state.
//
// Every budget is multiplied by FERRY_TEST_TIME_SCALE (a whole number, default 1):
// a slow or busy machine (CI) gets more time without editing any test. The npm
// test scripts scale the runner's per-test timeout by the same number. Budgets
// only matter when something is wrong: a test that passes never waits them out,
// so they are generous.

export const timeScale = readScale(process.env['FERRY_TEST_TIME_SCALE']);

function readScale(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 1;
  const scale = Number(raw);
  if (!Number.isInteger(scale) || scale < 1)
    throw new Error(`FERRY_TEST_TIME_SCALE must be a whole number of at least 1, not "${raw}"`);
  return scale;
}

/** A budget in milliseconds, scaled by FERRY_TEST_TIME_SCALE. */
export function scaled(ms: number): number {
  return ms * timeScale;
}

/**
 * Polls `check` every `everyMs` until it returns a value other than undefined or
 * false, and returns that value. Fails naming `what` after the (scaled) budget
 * (a function: called then, to say what was seen last). Tests wait for the state
 * they need (a log line, progress.rows > 0), never for a fixed time.
 */
export async function waitFor<T>(
  what: string | (() => string),
  check: () => Promise<T | undefined | false> | T | undefined | false,
  budgetMs = 60_000,
  everyMs = 100,
): Promise<T> {
  const budget = scaled(budgetMs);
  const deadline = Date.now() + budget;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${budget} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
