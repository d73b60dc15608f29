import { performance } from 'node:perf_hooks';
import { MAX_SQL_BYTES } from '../src/engine/sources/sql-rejected.ts';
import { checkReadOnlySql, type Dialect } from '../src/engine/sources/sql-text.ts';

// How fast Ferry checks report SQL, per engine, on texts of 64 KB and the
// 256 KB maximum, against a reference linear pass over the same text (UTF-8
// encoding it). A 4x longer text taking about 4x as long shows the check is
// linear; a quadratic check would take 16x.

function reportText(bytes: number): string {
  const columns: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes - 300; i++) {
    const c = `'v${i} -- /* é' AS c${i} /* note ${i} */`;
    columns.push(c);
    size += Buffer.byteLength(c) + 2;
  }
  return `SELECT ${columns.join(', ')} WHERE {{since}} IS NOT NULL -- end`;
}

/** The median of `rounds` timed calls after two warm-ups: one slow round (GC) does not skew it. */
async function timed(fn: () => unknown | Promise<unknown>, rounds: number): Promise<number> {
  await fn();
  await fn();
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    await fn();
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[Math.floor(rounds / 2)]!;
}

export async function run(): Promise<void> {
  const rows: string[][] = [['engine', 'text', 'ms', 'MB/s', 'ratio vs UTF-8 encode', 'time vs 64 KB']];
  const encoder = new TextEncoder();
  for (const dialect of ['postgres', 'mysql', 'sqlite'] as Dialect[]) {
    let small = 0;
    for (const bytes of [64 * 1024, MAX_SQL_BYTES]) {
      const text = reportText(bytes);
      const mb = Buffer.byteLength(text) / 1e6;
      const reference = await timed(() => encoder.encode(text), 50);
      const ms = await timed(() => checkReadOnlySql(text, dialect), 15);
      if (bytes !== MAX_SQL_BYTES) small = ms;
      rows.push([
        dialect,
        `${Math.round(bytes / 1024)} KB`,
        ms.toFixed(1),
        (mb / (ms / 1000)).toFixed(1),
        (reference / ms).toFixed(4),
        bytes === MAX_SQL_BYTES ? `${(ms / small).toFixed(1)}x` : '1.0x',
      ]);
    }
  }
  for (const r of rows) process.stdout.write(`${r.join(' | ')}\n`);
}
