import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';

// Shared by the benchmarks: a sink that only counts bytes, and running each
// variant in a child process of its own so its peak RSS is its own.

export function countingSink(): { stream: Writable; bytes: () => number } {
  let bytes = 0;
  return {
    stream: new Writable({
      write(chunk, _e, done) {
        bytes += chunk.length;
        done();
      },
    }),
    bytes: () => bytes,
  };
}

/**
 * Runs `node <file> <variant>` for each variant; each prints one JSON line of
 * results. Every variant, references included, starts as Ferry's own processes
 * do (bin/ferry.mjs): the V8 young-generation setting, two malloc arenas, and
 * Node's compile cache, warmed by a first start that only loads the file, so no
 * variant pays for stripping TypeScript.
 */
export function runVariants<T>(file: string, variants: readonly string[]): T[] {
  const env = {
    ...process.env,
    MALLOC_ARENA_MAX: '2',
    NODE_COMPILE_CACHE: join(tmpdir(), 'ferry-bench-compile-cache'),
  };
  const warm = spawnSync(process.execPath, [file], { encoding: 'utf8', env });
  if (warm.status !== 0) throw new Error(`loading ${file} failed: ${warm.stderr}`);
  return variants.map((variant) => {
    const child = spawnSync(process.execPath, ['--max-semi-space-size=16', file, variant], {
      encoding: 'utf8',
      env,
    });
    if (child.status !== 0) throw new Error(`${variant} failed: ${child.stderr}`);
    return JSON.parse(child.stdout) as T;
  });
}

/**
 * Peak resident memory of this process. On Linux VmHWM from /proc: getrusage's
 * maxrss survives fork+exec and would report the parent's peak for a child.
 */
export function peakRssMb(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}

/** The PostgreSQL server benches create their databases on. */
export const BENCH_BASE_URL =
  process.env['BENCH_DATABASE_URL'] ??
  process.env['TEST_DATABASE_URL'] ??
  'postgres://postgres@127.0.0.1:5432/test';

/** The URL of database `name` on the bench server. */
export function dbUrl(name: string): string {
  const u = new URL(BENCH_BASE_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/** One statement on the bench server's default database (CREATE/DROP DATABASE). */
export async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: BENCH_BASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** The p-th percentile (nearest rank) of sorted values; NaN when there are none. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** A Markdown table on stdout, the first row its header. */
export function table(rows: string[][]): void {
  const width = rows[0]!.map((_, i) => Math.max(3, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(width[i]!)).join(' | ')} |\n`;
  process.stdout.write(line(rows[0]!));
  process.stdout.write(`|${width.map((w) => '-'.repeat(w + 2)).join('|')}|\n`);
  for (const r of rows.slice(1)) process.stdout.write(line(r));
  process.stdout.write('\n');
}

export const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
