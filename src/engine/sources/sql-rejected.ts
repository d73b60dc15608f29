/** Report SQL that Ferry refuses to send; `position` is 1-based, in the text the user wrote. */
export class SqlRejected extends Error {
  readonly position: number | undefined;
  constructor(message: string, position?: number) {
    super(message);
    this.name = 'SqlRejected';
    this.position = position;
  }
}

/** The largest report text Ferry checks and runs: 256 KB of UTF-8. */
export const MAX_SQL_BYTES = 256 * 1024;

export function checkSqlSize(sql: string): void {
  if (sql.length > MAX_SQL_BYTES || Buffer.byteLength(sql) > MAX_SQL_BYTES)
    throw new SqlRejected(`The query is longer than ${MAX_SQL_BYTES / 1024} KB`);
}

/** A {{name}} inside a string literal would never be replaced: refuses it, naming where. */
export function refusePlaceholderInString(literal: string, position: number): void {
  const name = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)/.exec(literal)?.[1];
  if (name)
    throw new SqlRejected(
      `{{${name}}} is inside quotes at position ${position}: remove the quotes, the value is bound as a parameter`,
      position,
    );
}
