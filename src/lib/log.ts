import { pino } from 'pino';

export type Logger = pino.Logger;

// Anything that could carry a credential is censored wherever it appears in a
// log object. Request bodies are never logged at all.
const redactPaths = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'apiKey',
  '*.apiKey',
  'setupToken',
  '*.setupToken',
  'authorization',
  '*.authorization',
  'cookie',
  '*.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: redactPaths, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

/**
 * For a one-shot command whose standard output is its answer (`ferry tenant
 * create --json`, `ferry export -o -`): log lines go to standard error, so they
 * never mix into what a script reads.
 */
export function createCommandLogger(level: string): Logger {
  return createLogger(level, pino.destination({ fd: 2, sync: true }));
}

/** Removes credentials from a URL before it is logged or shown (database URLs, signed links). */
export function scrubUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return raw;
  }
}

/** Request paths can carry a signed-link token (/d/<token>); logs keep only the route. */
export function scrubRequestPath(path: string): string {
  return path.replace(/^\/d\/[^/?#]+/, '/d/[redacted]');
}
