import type { Readable, Writable } from 'node:stream';

// Where export files live: a local folder or an S3(-compatible) bucket. A file is
// written through a writer and only becomes visible under its key on commit
// (rename / completed multipart upload); abort leaves nothing behind.

export interface ObjectWriter {
  stream: Writable;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface Storage {
  readonly kind: 'local' | 's3';
  writer(key: string, contentType: string): Promise<ObjectWriter>;
  size(key: string): Promise<number | null>;
  read(key: string, range?: { start: number; end: number }): Promise<Readable>;
  remove(key: string): Promise<void>;
  /**
   * Removes everything an attempt wrote under its key prefix (`<tenant>/<run>/<attempt>/`):
   * unfinished writes (a temporary file, a multipart upload) and any file it
   * committed but never published. For an attempt declared lost. Returns how many.
   */
  removeAttempt(prefix: string): Promise<number>;
  /** Removes unfinished writes older than the given age (left by a worker that was killed). Returns how many. */
  sweepUnfinished(olderThanMs: number): Promise<number>;
  /** Keys of committed files last written longer ago than the given age, in pages. */
  listCommitted(olderThanMs: number): AsyncIterable<string[]>;
}

/** Guards removeAttempt: only ever `<tenant>/<run>/<attempt>/`, never a shorter prefix that would take more. */
export function assertAttemptPrefix(prefix: string): void {
  if (!/^[^/.][^/]*\/[^/.][^/]*\/\d+\/$/.test(prefix))
    throw new Error(`Not an attempt's key prefix: ${prefix}`);
}
