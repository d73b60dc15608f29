import type { Executor } from '../../db/db.ts';

export interface UserRow {
  id: string;
  email: string;
  name: string;
  password_hash: string | null;
  is_instance_admin: boolean;
  created_at: Date;
}

const columns = 'id, email, name, password_hash, is_instance_admin, created_at';

export async function findUserByEmail(db: Executor, email: string): Promise<UserRow | undefined> {
  const r = await db.query<UserRow>(`SELECT ${columns} FROM users WHERE lower(email) = lower($1)`, [email]);
  return r.rows[0];
}

export async function getUser(db: Executor, id: string): Promise<UserRow | undefined> {
  const r = await db.query<UserRow>(`SELECT ${columns} FROM users WHERE id = $1`, [id]);
  return r.rows[0];
}

export async function insertUser(
  db: Executor,
  u: { id: string; email: string; name: string; passwordHash: string | null; isInstanceAdmin: boolean },
): Promise<UserRow> {
  const r = await db.query<UserRow>(
    `INSERT INTO users (id, email, name, password_hash, is_instance_admin) VALUES ($1, $2, $3, $4, $5) RETURNING ${columns}`,
    [u.id, u.email, u.name, u.passwordHash, u.isInstanceAdmin],
  );
  return r.rows[0]!;
}

export async function countUsers(db: Executor): Promise<number> {
  const r = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
  return r.rows[0]!.n;
}

export async function updateUserProfile(
  db: Executor,
  id: string,
  changes: { name?: string | undefined; passwordHash?: string | undefined },
): Promise<void> {
  await db.query(
    `UPDATE users SET name = coalesce($2, name), password_hash = coalesce($3, password_hash), updated_at = now() WHERE id = $1`,
    [id, changes.name ?? null, changes.passwordHash ?? null],
  );
}
