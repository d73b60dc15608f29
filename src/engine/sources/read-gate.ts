import {
  type BoundQuery,
  type CsvCopy,
  type CsvCopyOptions,
  defaultReadLimits,
  type ReadLimits,
  type RowStream,
  type Source,
} from './types.ts';

// What every read passes before an engine's driver touches the database: the
// read limits completed from the defaults, a signal aborted already refused,
// and the engine's check that only a single read statement goes on. It lives
// here once so that no engine can leave a step out or take them in another
// order: a driver has no openRows of its own, only reads that start from what
// its check returned, so it reaches callers as a Source only through gateSource.

/**
 * An engine's side of a source. `Checked` is what its read-only check makes of
 * a query (the parsed statement, the SQL with the values written in): the reads
 * take that, never the query as the caller gave it.
 */
export interface SourceDriver<Checked> extends Omit<Source, 'openRows' | 'copyCsv'> {
  /** Refuses anything but a single read statement (SqlRejected), whoever the caller. */
  checkRead(query: BoundQuery): Checked | Promise<Checked>;
  readRows(checked: Checked, signal: AbortSignal, limits: ReadLimits): Promise<RowStream>;
  /** See Source.copyCsv. */
  copyCsv?(
    checked: Checked,
    options: CsvCopyOptions,
    signal: AbortSignal,
    limits: ReadLimits,
  ): Promise<CsvCopy | null>;
}

/** The Source callers get: the driver's own members, its reads behind the gate. */
export function gateSource<Checked>(driver: SourceDriver<Checked>): Source {
  const pass = async (query: BoundQuery, signal: AbortSignal, limits: Partial<ReadLimits> | undefined) => {
    const complete: ReadLimits = { ...defaultReadLimits, ...limits };
    signal.throwIfAborted();
    return { checked: await driver.checkRead(query), limits: complete };
  };
  const copyCsv = driver.copyCsv?.bind(driver);
  const privileges = driver.privileges?.bind(driver);
  return {
    dialect: driver.dialect,
    test: () => driver.test(),
    async openRows(query, signal, limits) {
      const gate = await pass(query, signal, limits);
      return driver.readRows(gate.checked, signal, gate.limits);
    },
    ...(copyCsv && {
      async copyCsv(
        query: BoundQuery,
        options: CsvCopyOptions,
        signal: AbortSignal,
        limits?: Partial<ReadLimits>,
      ) {
        const gate = await pass(query, signal, limits);
        return copyCsv(gate.checked, options, signal, gate.limits);
      },
    }),
    listTables: () => driver.listTables(),
    ...(privileges && { privileges }),
    close: () => driver.close(),
  };
}
