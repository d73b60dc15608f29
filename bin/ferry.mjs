#!/usr/bin/env -S node --max-semi-space-size=16
// Entry point for `npx ferry`. Ferry is TypeScript run directly by Node 24, which
// npm and npx put first on PATH through the pinned `node` devDependency.
// --max-semi-space-size=16: Node 24 otherwise grows its young generation with the
// machine's memory, and a streaming export then peaks at ~230 MB instead of ~160 MB
// (measured on the CSV row path, 1M rows) at no measured cost in speed.
import module from 'node:module';
import v8 from 'node:v8';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `Ferry needs Node.js 24 or newer (this is ${process.version}). Run it through npm so the pinned Node is used: npx ferry ... or npm start\n`,
  );
  process.exit(2);
}
// glibc gives every thread that allocates its own malloc arena. zlib compresses on
// libuv's thread pool, and fragmentation across those arenas was ~33 MB of an XLSX
// export's peak memory (150 -> 117 MB for 1M rows, no slower). So Ferry restarts
// itself once, in place (same process id), with two arenas, unless the operator
// has chosen a value. Other C libraries ignore the variable. Not when a parent
// talks to this process over IPC (fork(), node --watch, process managers): Node
// takes the channel out of the environment at start, so a new image would lose it.
//
// The same restart adds --liftoff-only: PostgreSQL's parser (libpg-query, WASM)
// was otherwise optimised by V8's second compiler in the background after the
// first SQL check, which took the process from ~230 MB to ~540 MB for a moment and
// left ~30 MB more for good (measured). Checks of ordinary report SQL take a few
// milliseconds either way; the largest allowed text (256 KB) 107 -> 180 ms.
const V8_FLAGS = ['--liftoff-only'];
if (
  process.platform === 'linux' &&
  process.env.MALLOC_ARENA_MAX === undefined &&
  typeof process.execve === 'function' &&
  typeof process.send !== 'function'
) {
  try {
    const flags = V8_FLAGS.filter((f) => !process.execArgv.includes(f));
    process.execve(
      process.execPath,
      [process.execPath, ...process.execArgv, ...flags, ...process.argv.slice(1)],
      { ...process.env, MALLOC_ARENA_MAX: '2' },
    );
  } catch {
    // Not allowed here (a sandbox, a seccomp profile): run on with the default arenas.
  }
}
// Without the restart, the flag set now still keeps the optimised code out for good.
if (!V8_FLAGS.every((f) => process.execArgv.includes(f))) v8.setFlagsFromString(V8_FLAGS.join(' '));

// Node keeps the type-stripped TypeScript in its compile cache, so later starts
// neither strip again nor load the stripper: ~17 MB less memory per process
// (measured) and a faster start. Child processes inherit the cache through the
// environment.
const cache = module.enableCompileCache();
if (cache.directory && !process.env.NODE_COMPILE_CACHE) process.env.NODE_COMPILE_CACHE = cache.directory;
await import('../src/main.ts');
