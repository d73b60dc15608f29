import { call, type TestApp } from './app.ts';

const finished = (s: string) => !['queued', 'running'].includes(s);

/** Polls a run until `until(status)` holds (default: it has finished). */
export async function waitForRun(
  t: TestApp,
  key: string,
  id: string,
  until: (status: string) => boolean = finished,
  ms = 30_000,
) {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await call(t, { url: `/api/v1/runs/${id}`, key });
    if (until(r.body.status)) return r.body;
    if (Date.now() > deadline) throw new Error(`run ${id} still ${r.body.status}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}
