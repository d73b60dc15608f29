import { checkSqlSize, refusePlaceholderInString, SqlRejected } from './sql-rejected.ts';

// SQLite's lexical rules (tokenize.c): '…' strings with '' inside; "…", `…` and
// […] quoted names; -- comments to the end of the line; /* … */ comments that
// do not nest and, unterminated, run to the end of the text. One pass, linear.
// SQLite sources are opened read-only, without extensions; these checks give a
// clear message first and keep file and extension functions out however they
// are quoted.

type Kind = 'code' | 'string' | 'identifier' | 'comment';

interface Token {
  kind: Kind;
  start: number;
  end: number;
}

function closing(sql: string, from: number, quote: string, doubled: boolean): number {
  let i = from + 1;
  for (;;) {
    const at = sql.indexOf(quote, i);
    if (at === -1) {
      const what = quote === "'" ? 'string literal' : 'quoted name';
      throw new SqlRejected(`Unterminated ${what} starting at position ${from + 1}`, from + 1);
    }
    if (doubled && sql[at + 1] === quote) {
      i = at + 2;
      continue;
    }
    return at + 1;
  }
}

export function lexSqlite(sql: string): Token[] {
  checkSqlSize(sql);
  const tokens: Token[] = [];
  let codeStart = 0;
  const push = (kind: Kind, start: number, end: number) => {
    if (codeStart < start) tokens.push({ kind: 'code', start: codeStart, end: start });
    tokens.push({ kind, start, end });
    codeStart = end;
  };
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i];
    let end = -1;
    let kind: Kind = 'code';
    if (ch === "'") {
      end = closing(sql, i, "'", true);
      kind = 'string';
    } else if (ch === '"' || ch === '`') {
      end = closing(sql, i, ch, true);
      kind = 'identifier';
    } else if (ch === '[') {
      end = closing(sql, i, ']', false);
      kind = 'identifier';
    } else if (ch === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      end = nl === -1 ? sql.length : nl + 1;
      kind = 'comment';
    } else if (ch === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      end = close === -1 ? sql.length : close + 2;
      kind = 'comment';
    }
    if (end === -1) {
      i++;
      continue;
    }
    push(kind, i, end);
    i = end;
  }
  if (codeStart < sql.length) tokens.push({ kind: 'code', start: codeStart, end: sql.length });
  return tokens;
}

const ALLOWED_FIRST = new Set(['select', 'with', 'values']);
// Statements and clauses that write or change state; the read-only connection refuses them anyway.
const FORBIDDEN_WORDS = new Set([
  'insert',
  'update',
  'delete',
  'replace',
  'upsert',
  'drop',
  'alter',
  'create',
  'attach',
  'detach',
  'pragma',
  'vacuum',
  'reindex',
  'analyze',
  'returning',
]);
// Functions that reach outside the query, checked however the name is quoted.
const FORBIDDEN_FUNCTIONS = new Set(['load_extension', 'readfile', 'writefile', 'edit', 'fts3_tokenizer']);

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

export function sqlitePlaceholders(sql: string): Array<{ name: string; start: number; end: number }> {
  const found: Array<{ name: string; start: number; end: number }> = [];
  for (const t of lexSqlite(sql)) {
    const text = sql.slice(t.start, t.end);
    if (t.kind === 'code') {
      for (const m of text.matchAll(PLACEHOLDER))
        found.push({ name: m[1]!, start: t.start + m.index, end: t.start + m.index + m[0].length });
    } else if (t.kind === 'string') refusePlaceholderInString(text, t.start + 1);
  }
  return found;
}

/** Refuses anything but a single read statement (SELECT, WITH … SELECT, VALUES). */
export function checkSqliteReadOnly(sql: string): void {
  let first: string | undefined;
  let ended = false;
  for (const t of lexSqlite(sql)) {
    const text = sql.slice(t.start, t.end);
    if (t.kind === 'comment' || t.kind === 'string') continue;
    if (t.kind === 'identifier') {
      if (ended) throw onlyOne(t.start);
      const name = text.slice(1, -1).toLowerCase();
      if (FORBIDDEN_FUNCTIONS.has(name))
        throw new SqlRejected(`Reports are read-only: ${name} is not allowed`, t.start + 1);
      continue;
    }
    const re = /[\p{L}_][\p{L}\p{N}_$]*|;|\S/gu;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      const at = t.start + m.index + 1;
      if (m[0] === ';') {
        ended = true;
        continue;
      }
      if (ended) throw onlyOne(at);
      if (!/^[\p{L}_]/u.test(m[0])) continue;
      const word = m[0].toLowerCase();
      if (first === undefined) {
        first = word;
        if (!ALLOWED_FIRST.has(word))
          throw new SqlRejected(
            `Reports are read-only: a query must start with SELECT or WITH, not ${word.toUpperCase()}`,
            at,
          );
      }
      if (FORBIDDEN_WORDS.has(word) || FORBIDDEN_FUNCTIONS.has(word))
        throw new SqlRejected(`Reports are read-only: ${word.toUpperCase()} is not allowed`, at);
    }
  }
  if (first === undefined) throw new SqlRejected('The query is empty');
}

const onlyOne = (position: number) =>
  new SqlRejected('Only one statement is allowed: remove everything after the first ";"', position);
