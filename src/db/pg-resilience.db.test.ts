import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createEmptyPostgresDatabase, dropPostgresDatabase, postgresUrl } from '../../test/helpers/db.ts';
import { startTcpProxy, type TcpProxy } from '../../test/helpers/tcp-proxy.ts';
import { createLogger } from '../lib/log.ts';
import type { Db } from './db.ts';
import { createPgDb } from './pg.ts';

// Ferry's own database connection failing inside a transaction (the server
// restarts, the network resets) fails that transaction, never the process.

describe("Ferry's own pool: a connection lost inside a transaction", () => {
  let name: string;
  let admin: pg.Client;
  let proxy: TcpProxy;
  let db: Db;
  before(async () => {
    name = await createEmptyPostgresDatabase();
    const url = new URL(await postgresUrl(name));
    admin = new pg.Client({ connectionString: url.toString() });
    await admin.connect();
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.host = `${proxy.host}:${proxy.port}`;
    db = createPgDb({
      url: url.toString(),
      max: 2,
      applicationName: 'ferry-test',
      log: createLogger('silent'),
    });
  });
  after(async () => {
    await db.close();
    await admin.end();
    await proxy.close();
    await dropPostgresDatabase(name);
  });

  test('fails the transaction with the connection error; the pool works on', async () => {
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query('SELECT 1');
        // The client is checked out and idle while the transaction's code runs.
        await proxy.drop();
        await admin.query('SELECT 1'); // a round trip: the reset has reached the client's socket by now
        await tx.query('SELECT 2');
      }),
      /ECONNRESET|not queryable|Connection terminated/,
    );
    assert.equal((await db.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one, 1);
  });
});
