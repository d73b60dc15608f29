import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EmbeddedPostgresError, loadBinaries } from './embedded-postgres.ts';

// The lifecycle of the server is tested through the real program in
// test/integration/embedded-postgres*.process.test.ts; here, what needs no server.

test('a machine without a binary package is told so, and pointed to DATABASE_URL', async () => {
  await assert.rejects(loadBinaries('@embedded-postgres/plan9-mips'), (err: Error) => {
    assert.ok(err instanceof EmbeddedPostgresError);
    assert.match(err.message, /no embedded PostgreSQL for this machine/);
    assert.match(err.message, /@embedded-postgres\/plan9-mips is not installed/);
    assert.match(err.message, /DATABASE_URL=postgres:/);
    return true;
  });
});

test('this machine has its package, with both binaries', async () => {
  const binaries = await loadBinaries();
  assert.match(binaries.postgres, /bin[\\/]postgres(\.exe)?$/);
  assert.match(binaries.initdb, /bin[\\/]initdb(\.exe)?$/);
});
