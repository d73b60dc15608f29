import { createContext } from '../app/context.ts';
import { loadConfig } from '../config.ts';
import type { QueueRole } from '../jobs/queue.ts';
import { createLogger, scrubUrl } from '../lib/log.ts';
import { isSetupOpen, setupToken, writeSetupTokenFile } from '../modules/setup/service.ts';
import type { App } from '../server/types.ts';

// Graceful shutdown must finish well inside the 10 s that process managers
// usually allow between SIGTERM and SIGKILL.
export const SHUTDOWN_TIMEOUT_MS = 10_000;

/** Runs one or more roles in this process until SIGTERM or SIGINT. */
export async function runService(
  roles: ReadonlySet<QueueRole>,
  overrides: { port?: number | undefined; dataDir?: string | undefined },
): Promise<number> {
  const startedAt = performance.now();
  const config = loadConfig(process.env, overrides);
  const log = createLogger(config.logLevel);
  // The HTTP server's code only where it is served (not in `ferry worker` or `scheduler`).
  const serverCode = roles.has('api') ? import('../server/build-server.ts') : undefined;
  serverCode?.catch(() => {}); // awaited below; a start that fails first must not also report this
  const ctx = await createContext(config, { roles, log });
  let server: App | undefined;
  let setup: { token: string; file: string } | null = null;
  try {
    if (roles.has('api')) {
      // Written before the server answers, so whoever waits for /healthz and then
      // reads the file finds the whole token.
      if (await isSetupOpen(ctx.db)) {
        const token = setupToken(ctx.secrets);
        setup = { token, file: await writeSetupTokenFile(ctx.config.dataDir, token) };
      }
      const { buildServer } = await serverCode!;
      server = await buildServer(ctx);
      await server.listen({ port: config.port, host: config.host });
    }
  } catch (err) {
    await ctx.close();
    throw err;
  }
  const readyMs = Math.round(performance.now() - startedAt);
  log.info(
    {
      roles: [...roles],
      readyMs,
      database: config.databaseUrl ? scrubUrl(config.databaseUrl) : `embedded (${config.dataDir})`,
    },
    'ferry ready',
  );
  if (server) announce(config.publicUrl, setup);
  else process.stdout.write(`Ferry ${[...roles].join(' + ')} is running (ready in ${readyMs} ms)\n`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down');
      // The backstop stays armed until the process has exited: whatever still
      // holds the event loop after the stop (an export that did not let go, a
      // socket) cannot keep it running past its grace period. Unref'd, so a
      // clean stop exits as soon as nothing is left.
      const timer = setTimeout(() => {
        const open = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
        log.error(
          { open },
          `shutdown took longer than ${SHUTDOWN_TIMEOUT_MS / 1000} s; exiting with work unfinished`,
        );
        process.exit(1);
      }, SHUTDOWN_TIMEOUT_MS);
      timer.unref();
      let code = 0;
      try {
        // Stop accepting, let in-flight requests finish, then stop the queue
        // (workers get a moment to finish their exports and hand back the rest)
        // and close the database.
        if (server) await server.close();
        await ctx.close();
        log.info('stopped');
      } catch (err) {
        log.error({ err }, 'error during shutdown');
        code = 1;
      }
      resolve(code);
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
  });
}

function announce(publicUrl: string, setup: { token: string; file: string } | null): void {
  const lines = [`Ferry is running at ${publicUrl}`, `API docs: ${publicUrl}/docs`];
  if (setup) {
    const { token, file } = setup;
    lines.push(
      '',
      `First run: open ${publicUrl} and create your workspace and owner with this one-time setup token`,
      `  setup token: ${token}   (also in ${file})`,
      `  curl -X POST ${publicUrl}/api/v1/setup -H 'content-type: application/json' \\`,
      `    -d '{"setupToken":"${token}","tenantName":"My team","email":"you@example.com","password":"choose-a-password"}'`,
    );
  }
  process.stdout.write(`\n${lines.join('\n')}\n\n`);
}
