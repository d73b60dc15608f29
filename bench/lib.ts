import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

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
