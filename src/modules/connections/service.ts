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
import { auditOf, checkSettings, recordPrivilegeCheck, refusePrivileged, stateOf } from './privileges.ts';
import {
  type ConnectionRow,
  type ConnectionType,
  countReportsUsing,
  deleteConnection,
  getConnection,
  getDemoConnection,
  insertConnection,
  listConnections,
  lockConnection,
  updateConnection,
} from './repo.ts';
import {
  type ConnectionInput,
  type NormalizedConnection,
  normalizeServerConnection,
  resolveSqlitePath,
  type SecretPart,
} from './settings.ts';
import {
  createServerSource,
  createSourceFor,
  decryptSecret,
  NO_PRIVILEGES,
  type SourcePolicy,
} from './sources.ts';

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

const policyOf = (deps: Deps): SourcePolicy => ({
  allowSockets: deps.config.allowSockets,
  sqliteDir: deps.config.sqliteDir,
});

async function normalize(
  deps: Deps,
  type: ConnectionType,
  input: ConnectionInput,
  previous?: ConnectionRow,
): Promise<NormalizedConnection> {
  if (type === 'sqlite') {
    for (const field of [
      'url',
      'host',
      'port',
      'database',
      'user',
      'password',
      'ssl',
      'sslmode',
      'tls',
      'options',
    ] as const) {
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
  return normalizeServerConnection(type, input, prev, policyOf(deps));
}

const seal = (deps: Deps, id: string, secret: SecretPart | null) =>
  secret ? deps.secrets.encrypt(JSON.stringify(secret), `connection:${id}`) : null;
const view = (deps: Deps, row: ConnectionRow) =>
  presentConnection(row, decryptSecret(deps.secrets, row), policyOf(deps));

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

// --- create, update, delete -----------------------------------------------------

export async function createTenantConnection(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  input: {
    name: string;
    type: ConnectionType;
    config: ConnectionInput;
    allowPrivilegedUser?: boolean | undefined;
  },
): Promise<ConnectionView> {
  const normalized = await normalize(deps, input.type, input.config);
  const allowPrivilegedUser = input.allowPrivilegedUser ?? false;
  const check = await checkSettings(input.type, normalized, policyOf(deps));
  refusePrivileged(check.report, allowPrivilegedUser);
  const id = newId();
  const row = await deps.db.transaction(async (tx) => {
    const created = await insertConnection(tx, {
      id,
      tenantId: actor.tenantId,
      name: input.name,
      type: input.type,
      config: normalized.config,
      secret: seal(deps, id, normalized.secret),
      allowPrivilegedUser,
      privileges: stateOf(check, deps.clock.now()),
      createdBy: actor.userId,
    });
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'connection.created',
      targetType: 'connection',
      targetId: id,
      details: { name: input.name, type: input.type, allowPrivilegedUser, ...auditOf(check) },
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
  input: {
    name?: string | undefined;
    config?: ConnectionInput | undefined;
    allowPrivilegedUser?: boolean | undefined;
  },
): Promise<ConnectionView> {
  const current = await loadConnection(deps.db, actor.tenantId, id);
  if (current.type === 'demo' && input.config !== undefined)
    throw Invalid.field('config', 'the demo connection has no settings');
  if (current.type === 'demo' && input.allowPrivilegedUser !== undefined)
    throw Invalid.field('allowPrivilegedUser', 'the demo connection has no database user of its own');
  const normalized: NormalizedConnection =
    input.config === undefined
      ? { config: current.config, secret: decryptSecret(deps.secrets, current) }
      : await normalize(deps, current.type, input.config, current);
  const allowPrivilegedUser = input.allowPrivilegedUser ?? current.allow_privileged_user;
  // New settings, or a changed confirmation, are checked again before they are saved.
  const check =
    input.config !== undefined || input.allowPrivilegedUser !== undefined
      ? await checkSettings(current.type, normalized, policyOf(deps))
      : null;
  if (check) refusePrivileged(check.report, allowPrivilegedUser);
  const row = await deps.db.transaction(async (tx) => {
    const locked = await lockConnection(tx, actor.tenantId, id);
    if (!locked) throw new NotFound('Connection');
    if (locked.updated_at.getTime() !== current.updated_at.getTime())
      throw new Conflict('The connection was changed at the same time; load it again and retry');
    const at = deps.clock.now();
    const updated = await updateConnection(tx, actor.tenantId, id, {
      name: input.name ?? current.name,
      config: normalized.config,
      secret: seal(deps, id, normalized.secret),
      allowPrivilegedUser,
      privileges: check
        ? stateOf(check, at)
        : {
            warnings: current.privilege_warnings,
            isPrivilegedUser: current.privileged_user,
            checkedAt: current.privileges_checked_at,
          },
      at,
    });
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'connection.updated',
      targetType: 'connection',
      targetId: id,
      details: {
        fields: [
          ...(input.name !== undefined ? ['name'] : []),
          ...Object.keys(input.config ?? {}).map((k) => `config.${k}`),
          ...(input.allowPrivilegedUser !== undefined ? ['allowPrivilegedUser'] : []),
        ],
        ...(input.allowPrivilegedUser !== undefined ? { allowPrivilegedUser } : {}),
        ...(check ? auditOf(check) : {}),
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

// --- tests ------------------------------------------------------------------------

export interface TestResult {
  ok: true;
  version: string;
  latencyMs: number;
  privilegeWarnings: string[];
  isPrivilegedUser: boolean;
}

async function probe(source: Source): Promise<{ version: string; latencyMs: number }> {
  const started = performance.now();
  try {
    const info = await source.test();
    return { version: info.version, latencyMs: Math.round(performance.now() - started) };
  } catch (err) {
    throw sourceProblem(err, 'The connection test failed');
  }
}

/** Connects, and asks again what the user may do: recorded, and refused if not confirmed. */
export async function testSavedConnection(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  id: string,
): Promise<TestResult> {
  const row = await loadConnection(deps.db, actor.tenantId, id);
  const source = deps.sources.get(row);
  let report = NO_PRIVILEGES;
  if (row.type !== 'demo') {
    try {
      report = await deps.sources.checkPrivileges(row);
    } catch (err) {
      throw sourceProblem(err, 'The connection test failed');
    }
    await recordPrivilegeCheck(deps, row, report, { actor, origin });
    refusePrivileged(report, row.allow_privileged_user);
  }
  const info = await probe(source);
  return { ok: true, ...info, privilegeWarnings: report.warnings, isPrivilegedUser: report.isSuperuser };
}

/** Tests settings before they are saved: a throwaway source, closed afterwards. */
export async function testUnsavedConnection(
  deps: Deps,
  input: { type: ConnectionType; config: ConnectionInput },
): Promise<TestResult> {
  const normalized = await normalize(deps, input.type, input.config);
  const source =
    input.type === 'postgres' || input.type === 'mysql'
      ? createServerSource(input.type, normalized.config, normalized.secret, policyOf(deps))
      : createSourceFor(
          { id: newId(), type: input.type, config: normalized.config, secret: null },
          deps.secrets,
          policyOf(deps),
        );
  try {
    const info = await probe(source);
    const report = (await source.privileges?.().catch(() => null)) ?? NO_PRIVILEGES;
    return { ok: true, ...info, privilegeWarnings: report.warnings, isPrivilegedUser: report.isSuperuser };
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

/** Every tenant starts with the demo connection; its id. */
export async function provisionDemoConnection(tx: Executor, tenantId: string): Promise<string> {
  await tx.query(
    "INSERT INTO connections (id, tenant_id, name, type) VALUES ($1, $2, 'Demo data', 'demo') ON CONFLICT DO NOTHING",
    [newId(), tenantId],
  );
  const demo = await getDemoConnection(tx, tenantId);
  if (!demo) throw new Error('the demo connection was not created');
  return demo.id;
}
