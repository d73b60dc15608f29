import type { Executor } from '../../db/db.ts';
import { SqlRejected } from '../../engine/sources/sql-text.ts';
import {
  type Source,
  SourceConnectError,
  SourceQueryError,
  type TableInfo,
} from '../../engine/sources/types.ts';
import { AppError, Conflict, describeError, Invalid, NotFound, Unprocessable } from '../../lib/errors.ts';
import { newId } from '../../lib/ids.ts';
import { decodeCursor, type Page, toPage } from '../../lib/pagination.ts';
import { recordAudit } from '../audit/service.ts';
import type { Principal, RequestOrigin } from '../auth-context.ts';
import type { Deps } from '../deps.ts';
import { type ConnectionView, presentConnection } from './present.ts';
import {
  type ConnectionRow,
  type ConnectionType,
  countReportsUsing,
  deleteConnection,
  getConnection,
  insertConnection,
  listConnections,
  updateConnection,
} from './repo.ts';
import {
  type ConnectionInput,
  type NormalizedConnection,
  normalizeServerConnection,
  resolveSqlitePath,
  type SecretPart,
} from './settings.ts';
import { createSourceFor, decryptSecret } from './sources.ts';

/** Maps a source failure to what the API answers: 422 with the database's own words. */
export function sourceProblem(err: unknown, what = 'The query failed'): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof SqlRejected) return new Invalid(err.message, [{ path: 'sql', message: err.message }]);
  if (err instanceof SourceConnectError)
    return new Unprocessable(
      `Cannot connect to the data source: ${err.message}`,
      [{ path: 'connection', message: err.message }],
      err,
    );
  if (err instanceof SourceQueryError) {
    const at = err.position ? ` (at position ${err.position})` : '';
    return new Unprocessable(
      `${what}: ${err.message}${at}`,
      [{ path: 'sql', message: `${err.message}${at}` }],
      err,
    );
  }
  return new Unprocessable(`${what}: ${describeError(err)}`, undefined, err);
}

async function normalize(
  deps: Deps,
  type: ConnectionType,
  input: ConnectionInput,
  previous?: ConnectionRow,
): Promise<NormalizedConnection> {
  if (type === 'sqlite') {
    for (const field of ['url', 'host', 'port', 'database', 'user', 'password'] as const) {
      if (input[field] !== undefined)
        throw Invalid.field(`config.${field}`, 'does not apply to SQLite (give config.path)');
    }
    return {
      config: { path: await resolveSqlitePath(input.path ?? previous?.config.path, deps.config.sqliteDir) },
      secret: null,
    };
  }
  if (type === 'demo')
    throw Invalid.field('type', 'the demo connection is created with each tenant and cannot be added');
  if (input.path !== undefined) throw Invalid.field('config.path', `does not apply to ${type}`);
  const prev = previous
    ? { config: previous.config, secret: decryptSecret(deps.secrets, previous) }
    : undefined;
  return normalizeServerConnection(type, input, prev);
}

const seal = (deps: Deps, id: string, secret: SecretPart | null) =>
  secret ? deps.secrets.encrypt(JSON.stringify(secret), `connection:${id}`) : null;
const view = (deps: Deps, row: ConnectionRow) => presentConnection(row, decryptSecret(deps.secrets, row));

export async function loadConnection(db: Executor, tenantId: string, id: string): Promise<ConnectionRow> {
  const row = await getConnection(db, tenantId, id);
  if (!row) throw new NotFound('Connection');
  return row;
}

export async function listTenantConnections(
  deps: Deps,
  actor: Principal,
  q: { cursor?: string | undefined; limit: number },
): Promise<Page<ConnectionView>> {
  const cursor = decodeCursor(q.cursor, { id: 'uuid' });
  const rows = await listConnections(deps.db, actor.tenantId, cursor?.id, q.limit + 1);
  return toPage(
    rows,
    q.limit,
    (r) => view(deps, r),
    (r) => ({ id: r.id }),
  );
}

export async function getTenantConnection(deps: Deps, actor: Principal, id: string): Promise<ConnectionView> {
  return view(deps, await loadConnection(deps.db, actor.tenantId, id));
}

export async function createTenantConnection(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  input: { name: string; type: ConnectionType; config: ConnectionInput },
): Promise<ConnectionView> {
  const normalized = await normalize(deps, input.type, input.config);
  const id = newId();
  const row = await deps.db.transaction(async (tx) => {
    const created = await insertConnection(tx, {
      id,
      tenantId: actor.tenantId,
      name: input.name,
      type: input.type,
      config: normalized.config,
      secret: seal(deps, id, normalized.secret),
      createdBy: actor.userId,
    });
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'connection.created',
      targetType: 'connection',
      targetId: id,
      details: { name: input.name, type: input.type },
    });
    return created;
  });
  return view(deps, row);
}

export async function updateTenantConnection(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  id: string,
  input: { name?: string | undefined; config?: ConnectionInput | undefined },
): Promise<ConnectionView> {
  const row = await deps.db.transaction(async (tx) => {
    const current = await loadConnection(tx, actor.tenantId, id);
    if (current.type === 'demo' && input.config !== undefined)
      throw Invalid.field('config', 'the demo connection has no settings');
    const normalized: NormalizedConnection =
      input.config === undefined
        ? { config: current.config, secret: decryptSecret(deps.secrets, current) }
        : await normalize(deps, current.type, input.config, current);
    const updated = await updateConnection(tx, actor.tenantId, id, {
      name: input.name ?? current.name,
      config: normalized.config,
      secret: seal(deps, id, normalized.secret),
      at: deps.clock.now(),
    });
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'connection.updated',
      targetType: 'connection',
      targetId: id,
      details: {
        fields: [
          ...(input.name !== undefined ? ['name'] : []),
          ...Object.keys(input.config ?? {}).map((k) => `config.${k}`),
        ],
      },
    });
    return updated!;
  });
  await deps.sources.forget(id);
  return view(deps, row);
}

export async function deleteTenantConnection(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  id: string,
): Promise<void> {
  await deps.db.transaction(async (tx) => {
    const current = await loadConnection(tx, actor.tenantId, id);
    if (current.type === 'demo') throw new Conflict('The demo connection cannot be deleted');
    const used = await countReportsUsing(tx, actor.tenantId, id);
    if (used > 0)
      throw new Conflict(
        `The connection is used by ${used} report${used === 1 ? '' : 's'}; delete or move them first`,
      );
    await deleteConnection(tx, actor.tenantId, id);
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'connection.deleted',
      targetType: 'connection',
      targetId: id,
      details: { name: current.name },
    });
  });
  await deps.sources.forget(id);
}

export interface TestResult {
  ok: true;
  version: string;
  latencyMs: number;
}

async function probe(source: Source): Promise<TestResult> {
  const started = performance.now();
  try {
    const info = await source.test();
    return { ok: true, version: info.version, latencyMs: Math.round(performance.now() - started) };
  } catch (err) {
    throw sourceProblem(err, 'The connection test failed');
  }
}

export async function testSavedConnection(deps: Deps, actor: Principal, id: string): Promise<TestResult> {
  const row = await loadConnection(deps.db, actor.tenantId, id);
  return probe(deps.sources.get(row));
}

/** Tests settings before they are saved: a throwaway source, closed afterwards. */
export async function testUnsavedConnection(
  deps: Deps,
  input: { type: ConnectionType; config: ConnectionInput },
): Promise<TestResult> {
  const normalized = await normalize(deps, input.type, input.config);
  const id = newId();
  const now = deps.clock.now();
  const row: ConnectionRow = {
    id,
    tenant_id: '',
    name: 'test',
    type: input.type,
    config: normalized.config,
    secret: seal(deps, id, normalized.secret),
    created_at: now,
    updated_at: now,
  };
  const source = createSourceFor(row, deps.secrets, deps.config.sqliteDir);
  try {
    return await probe(source);
  } finally {
    await source.close();
  }
}

export async function connectionSchema(
  deps: Deps,
  actor: Principal,
  id: string,
  refresh: boolean,
): Promise<{ tables: TableInfo[]; cachedAt: string }> {
  const row = await loadConnection(deps.db, actor.tenantId, id);
  try {
    const s = await deps.sources.schema(row, refresh);
    return { tables: s.tables, cachedAt: s.cachedAt.toISOString() };
  } catch (err) {
    throw sourceProblem(err, 'Reading the schema failed');
  }
}

/** Every tenant starts with the demo connection. */
export async function provisionDemoConnection(tx: Executor, tenantId: string): Promise<void> {
  await tx.query(
    "INSERT INTO connections (id, tenant_id, name, type) VALUES ($1, $2, 'Demo data', 'demo') ON CONFLICT DO NOTHING",
    [newId(), tenantId],
  );
}
