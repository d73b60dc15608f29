import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { requireTier } from './tiers.ts';
import { waitFor } from './time.ts';

// Runs the real `ferry` program as a child process, the way users and process
// managers do: through bin/ferry.mjs, with its malloc and compile-cache settings.

export const MAIN = join(import.meta.dirname, '..', '..', 'bin', 'ferry.mjs');

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function baseEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  // A small demo dataset: these tests are about processes, not data volume.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    LOG_LEVEL: 'warn',
    FERRY_DEMO_ROWS: '500',
  };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export async function runFerry(args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<Finished> {
  requireTier('process', 'it runs `ferry`');
  const child = spawn(process.execPath, [MAIN, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

export interface Running {
  child: ChildProcess;
  url: string;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

/** Starts `ferry <role>` and waits until /readyz answers 200 (or, for roles without HTTP, until it says it runs). */
export async function startFerry(args: string[], env: NodeJS.ProcessEnv): Promise<Running> {
  requireTier('process', 'it starts `ferry`');
  const hasHttp = args[0] === 'start' || args[0] === 'api';
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN, ...args, '--port', String(port)], {
    env: { ...env, HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  const ready = async () => {
    if (child.exitCode !== null) throw new Error(`ferry exited with ${child.exitCode}:\n${out}`);
    if (!hasHttp) return / is running \(ready in \d+ ms\)/.test(out);
    // Ready: /readyz answers 200 and the start-up line is out.
    const r = await fetch(`${url}/readyz`).catch(() => undefined);
    return r?.status === 200 && out.includes('Ferry is running');
  };
  // Generous: a first start runs initdb, the migrations and the demo build (or converts
  // a PGlite directory), all slower on a busy machine; a ready process ends the wait.
  await waitFor(() => `ferry ${args.join(' ')} to become ready:\n${out}`, ready, 120_000).catch((err) => {
    child.kill('SIGKILL');
    throw err;
  });
  return {
    child,
    url,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      const started = Date.now();
      // Already gone (exited, or killed by an earlier stop): nothing to wait for.
      if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, ms: 0 };
      child.kill(signal);
      const [code] = (await once(child, 'exit')) as [number | null];
      return { code, ms: Date.now() - started };
    },
  };
}
