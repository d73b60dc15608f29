// Time budgets in tests, scaled by FERRY_TEST_TIME_FACTOR (default 1) so a
// loaded machine can be given more time without editing any test.

export const timeFactor = (() => {
  const raw = Number(process.env['FERRY_TEST_TIME_FACTOR'] ?? '1');
  return Number.isFinite(raw) && raw > 0 ? raw : 1;
})();

/** A budget in milliseconds, scaled by the time factor. */
export function scaled(ms: number): number {
  return Math.round(ms * timeFactor);
}

/** Polls `check` until it returns a value other than undefined/false; fails with `what` after the (scaled) budget. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  budgetMs = 60_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + scaled(budgetMs);
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
