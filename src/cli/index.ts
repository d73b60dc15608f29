import { parseArgs } from 'node:util';
import { ConfigError } from '../config.ts';
import { exportFormats } from '../engine/formats/names.ts';
import { UsageError } from './usage.ts';

// Each command's code is loaded when it runs: a one-shot command (tenant create,
// migrate) or the usage text need not load the HTTP server and the export writers.

const usage = `Usage: ferry <command> [options]

Commands:
  start                 API, UI, scheduler and workers in one process (default)
  api                   the HTTP API and UI only
  worker                background workers only
  scheduler             the scheduler only
  migrate               apply database migrations and exit
  demo [--rows N]       rebuild the demo dataset (default 200000 sales lines)
  export --report <id> --format <${exportFormats.join('|')}> --out <file> [--param name=value]...
                        run one export now, in this process (it shares the embedded
                        database with a running \`ferry start\`); --param is repeatable,
                        typed by the report's declarations (a list: a,b,c)
  tenant create         create a tenant with its owner and print an API key
      --name <name> --email <email> --password <password> [--owner-name <name>] [--json]

Options for start/api/worker/scheduler/migrate/tenant:
  --port <port>         HTTP port (default 8080, or PORT)
  --data-dir <dir>      data directory (default ./.ferry, or FERRY_DATA_DIR)
  -h, --help            show this help

Configuration comes from environment variables; see README.md.`;

const serviceRoles = {
  start: ['api', 'worker', 'scheduler'],
  api: ['api'],
  worker: ['worker'],
  scheduler: ['scheduler'],
} as const;

/** Runs a command; returns the process exit code (0 ok, 1 failure, 2 bad usage or configuration). */
export async function runCli(argv: string[]): Promise<number> {
  // Everything Ferry writes (secrets, setup token, export files, the embedded
  // database's own files) is for Ferry's user alone.
  process.umask(0o077);
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        port: { type: 'string' },
        'data-dir': { type: 'string' },
        name: { type: 'string' },
        email: { type: 'string' },
        password: { type: 'string' },
        'owner-name': { type: 'string' },
        json: { type: 'boolean' },
        rows: { type: 'string' },
        report: { type: 'string' },
        format: { type: 'string' },
        out: { type: 'string' },
        param: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(`${usage}\n`);
      return 0;
    }
    const [command = 'start', sub, ...rest] = positionals;
    // Only `tenant` takes a second word; anything more is a mistake, not something to ignore.
    const extra = command === 'tenant' ? rest[0] : (sub ?? rest[0]);
    if (extra !== undefined) throw new UsageError(`Unexpected argument "${extra}"`);
    const port = values.port === undefined ? undefined : parsePort(values.port);
    const overrides = { port, dataDir: values['data-dir'] };
    if (command in serviceRoles) {
      const { runService } = await import('./service.ts');
      return await runService(new Set(serviceRoles[command as keyof typeof serviceRoles]), overrides);
    }
    if (command === 'migrate') return await (await import('./migrate.ts')).runMigrate(overrides);
    if (command === 'demo') return await (await import('./demo.ts')).runDemo(overrides, values.rows);
    if (command === 'export')
      return await (await import('./export.ts')).runExport(overrides, {
        report: values.report,
        format: values.format,
        out: values.out,
        params: values.param ?? [],
      });
    if (command === 'tenant' && sub === 'create') {
      return await (await import('./tenant.ts')).runTenantCreate(overrides, {
        name: values.name,
        email: values.email,
        password: values.password,
        ownerName: values['owner-name'],
        json: values.json === true,
      });
    }
    throw new UsageError(`Unknown command "${[command, sub].filter(Boolean).join(' ')}"`);
  } catch (err) {
    return reportCliError(err);
  }
}

function parsePort(raw: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535)
    throw new UsageError(`--port must be a number from 1 to 65535 (got "${raw}")`);
  return Number(raw);
}

export function reportCliError(err: unknown): number {
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`ferry: ${(err as Error).message}\n\n${usage}\n`);
    return 2;
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`ferry: ${err.message}\n`);
    return 2;
  }
  // By name: the embedded database's module is not loaded for every command.
  if (err instanceof Error && err.name === 'EmbeddedPostgresError') {
    process.stderr.write(`ferry: ${err.message}\n`);
    return 1;
  }
  process.stderr.write(`ferry: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
}
