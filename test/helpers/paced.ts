// Exports that stay mid-way for as long as a test needs, without burning CPU:
// the source database sleeps a millisecond every `n` rows of about 1 KB (about
// 1 MB/s for n = 1), where a heavy query would keep a core busy that the other
// tests need. Paced functions are user code in the source database, which
// report SQL may call like any other.

/** Creates demo.paced(g, n) in a database holding the demo schema (run it as its owner). */
export const CREATE_PACED_FUNCTION = `CREATE OR REPLACE FUNCTION demo.paced(g bigint, n int) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
  IF g % n = 0 THEN PERFORM pg_sleep(0.001); END IF;
  RETURN g;
END $$;
GRANT EXECUTE ON FUNCTION demo.paced(bigint, int) TO PUBLIC`;

/** Report SQL for `rows` rows of about 1 KB, a millisecond's pause every `n` rows (a million rows: minutes). */
export function pacedSql(n: number, rows = 1_000_000): string {
  return `SELECT demo.paced(g, ${n}) AS g, repeat(md5(g::text), 30) AS pad FROM generate_series(1, ${rows}) AS g`;
}
