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
