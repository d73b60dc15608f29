import type { PrivilegeReport } from './types.ts';

// What a MySQL/MariaDB account may do beyond reading, from SHOW GRANTS: each
// GRANT line names privileges on a target (*.*, `db`.*, `db`.`table`, a routine,
// or a user for PROXY). Roles granted to the account are followed (MariaDB: SHOW
// GRANTS FOR each role; MySQL: SHOW GRANTS … USING the roles).

/** Privileges that only read: no warning. */
const READ_ONLY = new Set(['USAGE', 'SELECT', 'SHOW VIEW', 'SHOW DATABASES']);

/** Privileges that change data or structure. */
const WRITES = new Set([
  'INSERT',
  'UPDATE',
  'DELETE',
  'CREATE',
  'DROP',
  'ALTER',
  'INDEX',
  'REFERENCES',
  'TRIGGER',
  'EVENT',
  'EXECUTE',
  'CREATE VIEW',
  'CREATE ROUTINE',
  'ALTER ROUTINE',
  'CREATE TEMPORARY TABLES',
  'LOCK TABLES',
  'DELETE HISTORY',
  'CREATE TABLESPACE',
]);

export interface GrantLine {
  privileges: string[];
  /** As SHOW GRANTS prints it: *.*, `db`.*, `db`.`t`, PROCEDURE `db`.`p`, 'u'@'h' (PROXY). */
  target: string;
  withGrantOption: boolean;
}

/** Splits text at a keyword that stands outside quotes, backticks and parentheses. */
function splitAtTopLevel(text: string, keyword: string): [string, string] | null {
  let depth = 0;
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      continue;
    }
    if (ch === '`' || ch === "'" || ch === '"') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0 && text.startsWith(keyword, i))
      return [text.slice(0, i), text.slice(i + keyword.length)];
  }
  return null;
}

function splitPrivileges(list: string): string[] {
  const out: string[] = [];
  let rest = list;
  for (;;) {
    const parts = splitAtTopLevel(rest, ',');
    const item = (parts ? parts[0] : rest)
      .replace(/\(.*\)/s, '') // column lists: SELECT (`a`, `b`)
      .trim()
      .toUpperCase()
      .replace(/\s+/g, ' ');
    if (item) out.push(item === 'ALL' ? 'ALL PRIVILEGES' : item);
    if (!parts) return out;
    rest = parts[1];
  }
}

/** One line of SHOW GRANTS: privileges on a target, or (null) a role grant "GRANT `r` TO `u`". */
export function parseGrant(line: string): GrantLine | { roles: string[] } | null {
  const m = /^\s*GRANT\s+/i.exec(line);
  if (!m) return null;
  const body = line.slice(m[0].length);
  const on = splitAtTopLevel(body, ' ON ');
  if (!on) {
    const to = splitAtTopLevel(body, ' TO ');
    if (!to) return null;
    const roles: string[] = [];
    let rest = to[0];
    for (;;) {
      const parts = splitAtTopLevel(rest, ',');
      const role = (parts ? parts[0] : rest).trim();
      if (role) roles.push(role);
      if (!parts) break;
      rest = parts[1];
    }
    return { roles };
  }
  const to = splitAtTopLevel(on[1], ' TO ');
  return {
    privileges: splitPrivileges(on[0]),
    target: (to ? to[0] : on[1]).trim(),
    withGrantOption: /\bWITH\s+GRANT\s+OPTION\b/i.test(to?.[1] ?? ''),
  };
}

/** The warnings for the GRANT lines of one account (and of its roles). */
export function mysqlPrivilegeWarnings(lines: GrantLine[]): PrivilegeReport {
  const warnings: string[] = [];
  let isSuperuser = false;
  let hasFile = false;
  let hasSuper = false;
  for (const g of lines) {
    const global = g.target === '*.*';
    const all = g.privileges.includes('ALL PRIVILEGES');
    if (all && global) {
      isSuperuser = true;
      warnings.push(
        'has ALL PRIVILEGES ON *.*: an administrator account that can read and change everything on the server',
      );
      hasFile = hasSuper = true;
      continue;
    }
    if (g.privileges.includes('SUPER')) hasSuper = true;
    if (g.privileges.includes('FILE')) hasFile = true;
    if (all) warnings.push(`has ALL PRIVILEGES on ${g.target}: can change data and tables there`);
    const writes = g.privileges.filter((p) => WRITES.has(p));
    const admin = g.privileges.filter(
      (p) => !READ_ONLY.has(p) && !WRITES.has(p) && p !== 'ALL PRIVILEGES' && p !== 'FILE' && p !== 'SUPER',
    );
    if (writes.length > 0) warnings.push(`can change data or tables (${writes.join(', ')}) on ${g.target}`);
    if (admin.length > 0) warnings.push(`has administrative privileges (${admin.join(', ')}) on ${g.target}`);
    if (g.withGrantOption)
      warnings.push(`can grant its privileges on ${g.target} to others (WITH GRANT OPTION)`);
  }
  if (hasSuper) {
    isSuperuser = true;
    warnings.push('has SUPER: can change server settings and bypass read-only mode');
  }
  if (hasFile) warnings.push('has FILE: can read and write files on the database server');
  return { isSuperuser, warnings: [...new Set(warnings)] };
}

type Query = (sql: string) => Promise<unknown[]>;

const QUOTED = "(?:`(?:[^`]|``)*`|'(?:[^'\\\\]|'')*')";
const QUOTED_ROLE = new RegExp(`^${QUOTED}(?:@${QUOTED})?$`);

const grantTexts = (rows: unknown[]) =>
  rows.map((r) => String(Object.values(r as Record<string, unknown>)[0] ?? ''));

/** Asks the server for the account's grants, and those of the roles granted to it. */
export async function checkMysqlPrivileges(query: Query, isMariaDb: boolean): Promise<PrivilegeReport> {
  const grants: GrantLine[] = [];
  const roles: string[] = [];
  const unread: string[] = [];
  const collect = (texts: string[]) => {
    for (const text of texts) {
      const g = parseGrant(text);
      if (!g) continue;
      if (!('roles' in g)) grants.push(g);
      // Role names go back into SQL as the server quoted them; anything else is not followed.
      else
        for (const role of g.roles)
          if (!roles.includes(role) && !unread.includes(role))
            (QUOTED_ROLE.test(role) ? roles : unread).push(role);
    }
  };
  collect(grantTexts(await query('SHOW GRANTS')));
  if (roles.length > 0 && !isMariaDb) {
    // MySQL lists a role's privileges only when asked to apply it.
    try {
      const texts = grantTexts(await query(`SHOW GRANTS FOR CURRENT_USER() USING ${roles.join(', ')}`));
      grants.length = 0;
      collect(texts);
    } catch {
      unread.push(...roles);
    }
  } else {
    // MariaDB: each role, and the roles granted to it, in turn.
    for (let i = 0; i < roles.length && i < 50; i++) {
      try {
        collect(grantTexts(await query(`SHOW GRANTS FOR ${roles[i]}`)));
      } catch {
        unread.push(roles[i]!);
      }
    }
  }
  const report = mysqlPrivilegeWarnings(grants);
  if (unread.length > 0)
    report.warnings.push(`Ferry could not read the privileges of role ${unread.join(', ')}`);
  return report;
}
