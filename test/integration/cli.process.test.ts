import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { dataDirWithTenant } from '../helpers/data-dir.ts';
import { removeDataDir } from '../helpers/postmaster.ts';
import { baseEnv, runFerry, startFerry } from '../helpers/process.ts';

// The `ferry` commands that run and exit, on the embedded database. Each test
// has a data directory of its own (a copy of one prepared by `ferry tenant
// create`, see data-dir.ts), so any of them runs alone.

describe('the ferry command line on the embedded database', () => {
  const dirs: string[] = [];
  const prepared = async () => {
    const made = await dataDirWithTenant();
    dirs.push(made.dir);
    return made;
  };
  after(async () => {
    for (const dir of dirs) await removeDataDir(dir);
  });

  test('bad configuration or usage stops start-up with exit code 2 and names the problem', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-cli-'));
    dirs.push(dir);
    const cfg = await runFerry(
      ['start'],
      baseEnv({ PORT: 'abc', FERRY_SECRET: 'short', FERRY_DATA_DIR: dir }),
    );
    assert.equal(cfg.code, 2);
    assert.match(cfg.stderr, /PORT must be a whole number/);
    assert.match(cfg.stderr, /FERRY_SECRET must be at least 32 characters/);
    const noSecret = await runFerry(
      ['migrate'],
      baseEnv({ DATABASE_URL: 'postgres://postgres@127.0.0.1/test' }),
    );
    assert.equal(noSecret.code, 2);
    assert.match(noSecret.stderr, /FERRY_SECRET is required with DATABASE_URL/);
    const flag = await runFerry(['start', '--bogus'], baseEnv({}));
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /bogus/);
    const cmd = await runFerry(['launch'], baseEnv({}));
    assert.equal(cmd.code, 2);
    assert.match(cmd.stderr, /Unknown command "launch"/);
    // A stray word after a command is refused before the command runs (`migrate` took it silently).
    for (const args of [
      ['migrate', 'now'],
      ['start', 'api'],
      ['tenant', 'create', 'Acme'],
    ]) {
      const stray = await runFerry(args, baseEnv({ FERRY_DATA_DIR: dir }));
      assert.equal(stray.code, 2, args.join(' '));
      assert.match(stray.stderr, new RegExp(`Unexpected argument "${args.at(-1)}"`));
    }
    const missing = await runFerry(['tenant', 'create', '--name', 'X'], baseEnv({ FERRY_DATA_DIR: dir }));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--email must be an e-mail address/);
  });

  test('`ferry tenant create --json` on a stopped instance prints the tenant and an API key', async () => {
    const { dir } = await prepared();
    // A data directory others may read is made private, and said so on stderr: stdout stays the JSON alone.
    await chmod(dir, 0o755);
    const r = await runFerry(
      [
        'tenant',
        'create',
        '--name',
        'Beta',
        '--email',
        'beta@example.com',
        '--password',
        'long-enough-pw',
        '--json',
      ],
      baseEnv({ FERRY_DATA_DIR: dir }),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /made files and folders in the data directory private/);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(out).sort(), ['apiKey', 'tenantId', 'userId']);
    assert.match(out.apiKey, /^fry_/);
    // The generated instance secret is kept in the data dir, private to its owner.
    const secret = await stat(join(dir, 'secret'));
    assert.equal(secret.mode & 0o077, 0);
  });

  test('`ferry demo --rows N` rebuilds the demo dataset at that size', async () => {
    const { dir } = await prepared();
    const r = await runFerry(['demo', '--rows', '800'], baseEnv({ FERRY_DATA_DIR: dir }));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /800 order lines/);
    const bad = await runFerry(['demo', '--rows', 'lots'], baseEnv({ FERRY_DATA_DIR: dir }));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--rows must be a whole number/);
  });

  test('`ferry export` on a stopped instance runs one export in the foreground and writes the file', async () => {
    const { dir, apiKey } = await prepared();
    const env = baseEnv({ FERRY_DATA_DIR: dir });
    // The report is made the way users make one: through the API of a running Ferry.
    const ferry = await startFerry(['start'], env);
    let reportId: string;
    try {
      const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
      const connections = (await (await fetch(`${ferry.url}/api/v1/connections`, { headers })).json()) as {
        items: Array<{ id: string }>;
      };
      const report = await fetch(`${ferry.url}/api/v1/reports`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          name: 'Numbers',
          connectionId: connections.items[0]!.id,
          sql: 'SELECT g, md5(g::text) AS h FROM generate_series(1, 100000) AS g',
        }),
      });
      assert.equal(report.status, 201);
      reportId = ((await report.json()) as { id: string }).id;
    } finally {
      assert.equal((await ferry.stop()).code, 0, ferry.output());
    }

    const out = join(dir, 'export.csv');
    const r = await runFerry(['export', '--report', reportId, '--format', 'csv', '--out', out], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /100,000 rows/);
    const lines = (await readFile(out, 'utf8')).split('\r\n');
    // The header, every row, and the empty string after the last line break.
    assert.equal(lines.length, 100_002);
    assert.equal(lines[0], 'g,h');
    assert.equal(lines[100_000], '100000,14ee22eaba297944c96afdbe5b16c65b');
    const bad = await runFerry(['export', '--report', 'nope', '--out', out], env);
    assert.equal(bad.code, 2);
  });
});
