import type * as LibPgQuery from 'libpg-query';
import { refusedFunctionReason } from './pg-function-policy.ts';
import { checkSqlSize, refusePlaceholderInString, SqlRejected } from './sql-rejected.ts';

/** The locking clauses by their parse tree names, as the user writes them. */
const LOCK_WORDS: Record<string, string> = {
  LCS_FORUPDATE: 'FOR UPDATE',
  LCS_FORNOKEYUPDATE: 'FOR NO KEY UPDATE',
  LCS_FORSHARE: 'FOR SHARE',
  LCS_FORKEYSHARE: 'FOR KEY SHARE',
};

// Report SQL for PostgreSQL is checked with PostgreSQL's own parser (libpg_query,
// compiled to WASM): the text must be exactly one plain query (SELECT, VALUES,
// TABLE, or WITH whose members are queries), without INTO or a locking clause,
// and every function it calls is checked by its parsed name against the policy
// in pg-function-policy.ts. Comments, quoting and dollar quotes are the server's
// own rules, so no text that Ferry reads as a comment is code to the server.
// The parser is linear in the input; the input is at most 256 KB.

type PgParser = typeof LibPgQuery;
let loading: Promise<PgParser> | undefined;

/** Loads the parser once per process, on first use (about 1 MB of WASM). */
export function pgParser(): Promise<PgParser> {
  loading ??= import('libpg-query').then(async (m) => {
    await m.loadModule();
    return m;
  });
  return loading;
}

type Json = Record<string, unknown>;

export interface PgParam {
  number: number;
  /** UTF-16 index of the "$" and of the character after the number. */
  start: number;
  end: number;
}

export interface PgQuery {
  sql: string;
  /** The statement's node: { SelectStmt: … }. */
  tree: Json;
  params: PgParam[];
}

/** libpg_query counts in UTF-8 bytes; JavaScript strings in UTF-16 units. */
export function utf8Offsets(text: string): { toIndex(byte: number): number; toByte(index: number): number } {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII is the whole range 0-127
  if (/^[\x00-\x7f]*$/.test(text)) return { toIndex: (b) => b, toByte: (i) => i };
  const bytes = Buffer.from(text);
  const index = new Uint32Array(bytes.length + 1);
  const byteAt = new Uint32Array(text.length + 1);
  let b = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.codePointAt(i)!;
    const width = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    byteAt[i] = b;
    for (let k = 0; k < width; k++) index[b + k] = i;
    b += width;
    if (code >= 0x10000) {
      i++;
      byteAt[i] = b - width;
    }
  }
  index[b] = text.length;
  byteAt[text.length] = b;
  return { toIndex: (x) => index[Math.max(0, Math.min(x, b))]!, toByte: (i) => byteAt[i]! };
}

function syntaxError(err: unknown, sql: string): SqlRejected {
  const e = err as { message?: string; sqlDetails?: { message?: string; cursorPosition?: number } };
  const message = e.sqlDetails?.message ?? e.message ?? 'the query could not be parsed';
  if (!e.sqlDetails) {
    // Not a parse error with a position: the parser itself gave up (nesting too deep).
    return new SqlRejected(`The query could not be checked: ${message}`);
  }
  // The parser's error position counts characters (0-based), as the server's does;
  // node locations in the tree count bytes.
  const at = e.sqlDetails.cursorPosition;
  const position = at === undefined ? undefined : Math.min(at, sql.length) + 1;
  return new SqlRejected(
    `The query is not valid SQL: ${message}${position ? ` (at position ${position})` : ''}`,
    position,
  );
}

const STATEMENT_WORDS: Record<string, string> = {
  VariableSetStmt: 'SET',
  VariableShowStmt: 'SHOW',
  CreateStmt: 'CREATE TABLE',
  CreateTableAsStmt: 'CREATE TABLE AS',
  TransactionStmt: 'a transaction command',
  ExecuteStmt: 'EXECUTE',
};

const statementWord = (nodeType: string) =>
  STATEMENT_WORDS[nodeType] ??
  nodeType
    .replace(/Stmt$/, '')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toUpperCase();

const onlyNode = (wrapper: unknown): [string, Json] => {
  const [entry] = Object.entries(wrapper as Json);
  return entry as [string, Json];
};

/**
 * Walks every node without recursion (trees can be deep) and refuses anything
 * but reading. Returns the $n references with their byte locations.
 */
function enforceReadOnly(root: Json, refuse: (message: string, byteLocation?: number) => never) {
  const params: Array<{ number: number; location: number }> = [];
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      for (const v of value) if (v !== null && typeof v === 'object') stack.push(v);
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    for (const [key, node] of Object.entries(value as Json)) {
      if (node === null || typeof node !== 'object') continue;
      const n = node as Json;
      const location = typeof n['location'] === 'number' ? n['location'] : undefined;
      if (key.endsWith('Stmt') && key !== 'SelectStmt')
        refuse(`Reports are read-only: ${statementWord(key)} is not allowed`, location);
      if (key === 'SelectStmt') {
        if (n['intoClause'])
          refuse('Reports are read-only: SELECT … INTO creates a table', intoLocation(n['intoClause']));
        if (n['lockingClause']) {
          const clause = (n['lockingClause'] as Array<{ LockingClause?: { strength?: string } }>)[0];
          const words = LOCK_WORDS[clause?.LockingClause?.strength ?? ''] ?? 'FOR UPDATE';
          refuse(`${words} locks rows; reports only read`);
        }
      }
      if (key === 'FuncCall') checkFunctionName(n['funcname'], location, refuse);
      if (key === 'ColumnRef') {
        // f(x) may be written x.f (attribute notation): check the last name too.
        const fields = n['fields'] as Json[] | undefined;
        if (fields && fields.length > 1) checkFunctionName(fields.slice(-1), location, refuse);
      }
      if (key === 'ParamRef') params.push({ number: n['number'] as number, location: location ?? -1 });
      stack.push(node);
    }
  }
  return params;
}

function intoLocation(into: unknown): number | undefined {
  const rel = (into as { rel?: { location?: number } }).rel;
  return rel?.location;
}

function checkFunctionName(
  names: unknown,
  location: number | undefined,
  refuse: (message: string, byteLocation?: number) => never,
) {
  const parts = (names as Array<{ String?: { sval?: string } }> | undefined) ?? [];
  const last = parts.at(-1)?.String?.sval;
  if (last === undefined) return;
  const reason = refusedFunctionReason(last);
  if (reason) refuse(`Reports are read-only: ${last}() ${reason}`, location);
}

/**
 * Parses report SQL (with $n parameters) and refuses anything but one
 * read-only query. Positions in errors are 1-based, in `sql`.
 */
export async function parsePgReadQuery(sql: string): Promise<PgQuery> {
  checkSqlSize(sql);
  const parser = await pgParser();
  let parsed: { stmts?: Array<{ stmt: Json; stmt_location?: number }> };
  try {
    parsed = parser.parseSync(sql) as typeof parsed;
  } catch (err) {
    throw syntaxError(err, sql);
  }
  const offsets = utf8Offsets(sql);
  const refuse = (message: string, byteLocation?: number): never => {
    const position =
      byteLocation === undefined || byteLocation < 0 ? undefined : offsets.toIndex(byteLocation) + 1;
    throw new SqlRejected(position ? `${message} (at position ${position})` : message, position);
  };
  const stmts = parsed.stmts ?? [];
  if (stmts.length === 0) throw new SqlRejected('The query is empty');
  if (stmts.length > 1)
    refuse('Only one statement is allowed: remove everything after the first ";"', stmts[1]!.stmt_location);
  const tree = stmts[0]!.stmt;
  const [type] = onlyNode(tree);
  if (type !== 'SelectStmt')
    refuse(
      `Reports are read-only: a query must be SELECT, VALUES, TABLE or WITH … SELECT, not ${statementWord(type)}`,
      stmts[0]!.stmt_location ?? 0,
    );
  const refs = enforceReadOnly(tree, refuse);
  const params = refs
    .map((p) => {
      const start = offsets.toIndex(p.location);
      return { number: p.number, start, end: start + 1 + String(p.number).length };
    })
    .sort((a, b) => a.start - b.start);
  return { sql, tree, params };
}

/**
 * The {{name}} placeholders in code, found with PostgreSQL's own scanner (so
 * quotes, dollar quotes and comments are the server's); one inside a string
 * literal is an error, since it would never be replaced.
 */
export async function findPgPlaceholders(
  sql: string,
): Promise<Array<{ name: string; start: number; end: number }>> {
  checkSqlSize(sql);
  if (!sql.includes('{{')) return [];
  const parser = await pgParser();
  let tokens: LibPgQuery.ScanToken[];
  try {
    tokens = parser.scanSync(sql).tokens;
  } catch (err) {
    // The scanner's own errors carry no position: the parser says what is wrong and where.
    try {
      parser.parseSync(sql);
    } catch (parseErr) {
      throw syntaxError(parseErr, sql);
    }
    throw syntaxError(err, sql);
  }
  const offsets = utf8Offsets(sql);
  const found: Array<{ name: string; start: number; end: number }> = [];
  const name = /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.tokenName === 'SCONST') refusePlaceholderInString(t.text, offsets.toIndex(t.start) + 1);
    if (t.text !== '{' || tokens[i + 1]?.text !== '{' || tokens[i + 1]!.start !== t.end) continue;
    const close = tokens[i + 3];
    const last = tokens[i + 4];
    if (close?.text !== '}' || last?.text !== '}' || last.start !== close.end) continue;
    const start = offsets.toIndex(t.start);
    const end = offsets.toIndex(last.end);
    const m = name.exec(sql.slice(start, end));
    if (!m) continue;
    found.push({ name: m[1]!, start, end });
    i += 4;
  }
  return found;
}

/**
 * The query with each $n replaced by the given SQL text (a typed literal), for
 * statements that take no bound parameters (COPY). The result is parsed again
 * and must be the same query with constants where the parameters were.
 */
export async function inlinePgParameters(query: PgQuery, literals: string[]): Promise<PgQuery> {
  let out = '';
  let at = 0;
  for (const p of query.params) {
    const literal = literals[p.number - 1];
    if (literal === undefined) throw new SqlRejected(`No value for parameter $${p.number}`);
    out += `${query.sql.slice(at, p.start)}(${literal})`;
    at = p.end;
  }
  out += query.sql.slice(at);
  const inlined = await parsePgReadQuery(out);
  if (inlined.params.length > 0 || !sameTree(query.tree, inlined.tree, true))
    throw new Error('Inlining the parameters changed the query');
  return inlined;
}

/**
 * Proves that `copySql` is exactly one COPY (SELECT … FROM (query) …) TO STDOUT
 * of the checked query, reading and nothing else, before it is sent over the
 * simple query protocol (which would run a second statement).
 */
export async function verifyPgCopy(copySql: string, query: PgQuery): Promise<void> {
  const parser = await pgParser();
  const parsed = parser.parseSync(copySql) as { stmts?: Array<{ stmt: Json }> };
  const fail = (why: string): never => {
    throw new Error(`The COPY statement Ferry built did not check out: ${why}`);
  };
  if (parsed.stmts?.length !== 1) fail('not exactly one statement');
  const [type, copy] = onlyNode(parsed.stmts![0]!.stmt);
  if (type !== 'CopyStmt') fail(`a ${type}, not COPY`);
  if (
    copy['is_from'] ||
    copy['is_program'] ||
    copy['filename'] !== undefined ||
    copy['relation'] !== undefined
  )
    fail('not a COPY of a query to STDOUT');
  const [selectType, select] = onlyNode(copy['query']);
  if (selectType !== 'SelectStmt') fail('not a COPY of a query');
  enforceReadOnly({ SelectStmt: select }, (message) => fail(message));
  const from = select['fromClause'] as Json[] | undefined;
  const subquery = (from?.[0]?.['RangeSubselect'] as Json | undefined)?.['subquery'];
  if (from?.length !== 1 || !subquery || !sameTree(query.tree, subquery as Json, false))
    fail('the query inside is not the checked query');
}

// Where a node sits in the text (byte offsets and lengths), not what it is.
const POSITION_KEY = /location$|^list_(start|end)$|^stmt_len$/;

/**
 * Structural equality ignoring locations; with `constantsForParams`, a ParamRef
 * on the left matches a typed constant on the right.
 */
function sameTree(left: unknown, right: unknown, constantsForParams: boolean): boolean {
  const stack: Array<[unknown, unknown]> = [[left, right]];
  while (stack.length > 0) {
    const [a, b] = stack.pop()!;
    if (a === b) continue;
    if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
    if (Array.isArray(a) !== Array.isArray(b)) return false;
    const ao = a as Json;
    const bo = b as Json;
    if (constantsForParams && 'ParamRef' in ao) {
      const cast = bo['TypeCast'] as Json | undefined;
      if (!cast || !('A_Const' in ((cast['arg'] as Json | undefined) ?? {}))) return false;
      continue;
    }
    const keys = Object.keys(ao).filter((k) => !POSITION_KEY.test(k));
    const otherKeys = Object.keys(bo).filter((k) => !POSITION_KEY.test(k));
    if (keys.length !== otherKeys.length) return false;
    for (const k of keys) {
      if (!(k in bo)) return false;
      stack.push([ao[k], bo[k]]);
    }
  }
  return true;
}
