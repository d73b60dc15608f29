import { type Dialect, quoteIdentifier } from '../../engine/sources/sql-text.ts';
import type { TableInfo } from '../../engine/sources/types.ts';
import { type FieldError, Invalid } from '../../lib/errors.ts';

// The point-and-click builder: a spec compiled to one SELECT. Every table and
// column name is checked against the connection's schema and quoted; every
// value becomes a bound parameter ({{__f0}}, …), or refers to a report
// parameter ({ "param": "from" }).

export const aggregates = ['count', 'count_distinct', 'sum', 'avg', 'min', 'max'] as const;
export type Aggregate = (typeof aggregates)[number];
export const filterOps = [
  'eq',
  'ne',
  'lt',
  'lte',
  'gt',
  'gte',
  'between',
  'in',
  'contains',
  'is_null',
  'is_not_null',
] as const;
export type FilterOp = (typeof filterOps)[number];

export type FilterValue = string | number | boolean | { param: string };

export interface BuilderSpec {
  table: string;
  columns: Array<{ column: string; label?: string | undefined; aggregate?: Aggregate | undefined }>;
  filters?:
    | Array<{
        column: string;
        op: FilterOp;
        value?: FilterValue | undefined;
        values?: FilterValue[] | undefined;
      }>
    | undefined;
  groupBy?: string[] | undefined;
  sort?: Array<{ column: string; direction?: 'asc' | 'desc' | undefined }> | undefined;
  limit?: number | undefined;
}

export interface CompiledSpec {
  /** SQL with {{name}} placeholders for bind values. */
  sql: string;
  /** Values of the builder's own placeholders. */
  values: Record<string, unknown>;
  /** Report parameters the spec refers to. */
  parameterNames: string[];
}

export function findTable(tables: TableInfo[], name: string): TableInfo | undefined {
  return tables.find((t) => t.name === name || (t.schema !== null && `${t.schema}.${t.name}` === name));
}

export function compileSpec(
  spec: BuilderSpec,
  tables: TableInfo[],
  dialect: Dialect,
  path = 'spec',
): CompiledSpec {
  const errors: FieldError[] = [];
  const table = findTable(tables, spec.table);
  if (!table) {
    throw new Invalid(`${path}.table: no table or view "${spec.table}"`, [
      { path: `${path}.table`, message: `no table or view "${spec.table}" in this connection` },
    ]);
  }
  const q = (name: string) => quoteIdentifier(name, dialect);
  const known = new Map(table.columns.map((c) => [c.name, c]));
  const checkColumn = (name: string, at: string) => {
    if (!known.has(name)) errors.push({ path: at, message: `no column "${name}" in ${spec.table}` });
  };
  const values: Record<string, unknown> = {};
  const params = new Set<string>();
  let n = 0;
  const bind = (v: FilterValue, at: string): string => {
    if (typeof v === 'object' && v !== null) {
      if (typeof v.param !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v.param)) {
        errors.push({ path: at, message: 'must be a value or { "param": "<name>" }' });
        return 'NULL';
      }
      params.add(v.param);
      return `{{${v.param}}}`;
    }
    const name = `__f${n++}`;
    values[name] = v;
    return `{{${name}}}`;
  };

  if (spec.columns.length === 0)
    errors.push({ path: `${path}.columns`, message: 'must list at least one column' });
  const hasAggregate = spec.columns.some((c) => c.aggregate);
  const select = spec.columns.map((c, i) => {
    const at = `${path}.columns.${i}`;
    if (c.column === '*') {
      if (c.aggregate !== 'count')
        errors.push({ path: `${at}.column`, message: '"*" is only allowed with aggregate count' });
    } else checkColumn(c.column, `${at}.column`);
    const ref = c.column === '*' ? '*' : q(c.column);
    let expr = ref;
    if (c.aggregate === 'count_distinct') expr = `count(DISTINCT ${ref})`;
    else if (c.aggregate) expr = `${c.aggregate}(${ref})`;
    const label =
      c.label ?? (c.aggregate ? `${c.aggregate}_${c.column === '*' ? 'rows' : c.column}` : undefined);
    return label ? `${expr} AS ${q(label)}` : expr;
  });

  const where = (spec.filters ?? []).map((f, i) => {
    const at = `${path}.filters.${i}`;
    checkColumn(f.column, `${at}.column`);
    const col = q(f.column);
    const one = () => {
      if (f.value === undefined) {
        errors.push({ path: `${at}.value`, message: `is required for ${f.op}` });
        return 'NULL';
      }
      return bind(f.value, `${at}.value`);
    };
    switch (f.op) {
      case 'eq':
        return `${col} = ${one()}`;
      case 'ne':
        return `${col} <> ${one()}`;
      case 'lt':
        return `${col} < ${one()}`;
      case 'lte':
        return `${col} <= ${one()}`;
      case 'gt':
        return `${col} > ${one()}`;
      case 'gte':
        return `${col} >= ${one()}`;
      case 'between': {
        if (f.values?.length !== 2) {
          errors.push({ path: `${at}.values`, message: 'between needs exactly two values' });
          return 'FALSE';
        }
        return `${col} BETWEEN ${bind(f.values[0]!, `${at}.values.0`)} AND ${bind(f.values[1]!, `${at}.values.1`)}`;
      }
      case 'in': {
        if (!f.values || f.values.length === 0) {
          errors.push({ path: `${at}.values`, message: 'in needs at least one value' });
          return 'FALSE';
        }
        return `${col} IN (${f.values.map((v, j) => bind(v, `${at}.values.${j}`)).join(', ')})`;
      }
      case 'contains': {
        if (typeof f.value !== 'string') {
          errors.push({ path: `${at}.value`, message: 'contains needs a text value' });
          return 'FALSE';
        }
        const pattern = `%${f.value.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
        const op = dialect === 'postgres' ? 'ILIKE' : 'LIKE';
        // MySQL reads a backslash inside a literal as an escape, so it is written twice there.
        const escapeChar = dialect === 'mysql' ? "'\\\\'" : "'\\'";
        return `${col} ${op} ${bind(pattern, `${at}.value`)} ESCAPE ${escapeChar}`;
      }
      case 'is_null':
        return `${col} IS NULL`;
      case 'is_not_null':
        return `${col} IS NOT NULL`;
    }
    return 'FALSE';
  });

  let groupBy = spec.groupBy ?? [];
  for (const [i, g] of groupBy.entries()) checkColumn(g, `${path}.groupBy.${i}`);
  if (hasAggregate && spec.groupBy === undefined)
    groupBy = spec.columns.filter((c) => !c.aggregate).map((c) => c.column);
  if (hasAggregate) {
    spec.columns.forEach((c, i) => {
      if (!c.aggregate && !groupBy.includes(c.column))
        errors.push({
          path: `${path}.columns.${i}`,
          message: `"${c.column}" must be in groupBy or have an aggregate`,
        });
    });
  }

  const order = (spec.sort ?? []).map((s, i) => {
    const selected = spec.columns.find((c) => c.column === s.column || c.label === s.column);
    if (!selected && !known.has(s.column))
      errors.push({ path: `${path}.sort.${i}.column`, message: `no column "${s.column}" to sort by` });
    const target =
      selected?.label ??
      (selected?.aggregate
        ? `${selected.aggregate}_${selected.column === '*' ? 'rows' : selected.column}`
        : s.column);
    return `${q(target)} ${s.direction === 'desc' ? 'DESC' : 'ASC'}`;
  });

  if (spec.limit !== undefined && (!Number.isSafeInteger(spec.limit) || spec.limit < 1))
    errors.push({ path: `${path}.limit`, message: 'must be a positive whole number' });
  if (errors.length > 0) throw new Invalid(errors.map((e) => `${e.path}: ${e.message}`).join('; '), errors);

  const from = table.schema && dialect === 'postgres' ? `${q(table.schema)}.${q(table.name)}` : q(table.name);
  const sql = [
    `SELECT ${select.join(', ')}`,
    `FROM ${from}`,
    where.length ? `WHERE ${where.join(' AND ')}` : '',
    hasAggregate && groupBy.length ? `GROUP BY ${groupBy.map(q).join(', ')}` : '',
    order.length ? `ORDER BY ${order.join(', ')}` : '',
    spec.limit !== undefined ? `LIMIT ${spec.limit}` : '',
  ]
    .filter(Boolean)
    .join('\n');
  return { sql, values, parameterNames: [...params] };
}
