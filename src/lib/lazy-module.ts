import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * A package loaded on first use rather than at start-up. For drivers that only
 * some installations need (MySQL, S3, SMTP, holiday calendars): each is 20–30 MB
 * of a process's memory once loaded (measured), so a process that never uses one
 * never pays for it. Loads the package's CommonJS build, synchronously.
 */
export function lazyModule<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => {
    loaded ??= require(name) as T;
    return loaded;
  };
}
