// Typed application errors. Services throw these; the HTTP layer maps them to
// problem+json in one place (server/plugins/problem-json.ts) and the job layer
// maps them to retry or fail.

export const errorCodes = [
  'Invalid',
  'Unprocessable',
  'Unauthorized',
  'Forbidden',
  'NotFound',
  'Conflict',
  'Gone',
  'TooLarge',
  'RangeNotSatisfiable',
  'RateLimited',
  'Retryable',
  'Permanent',
  'Unavailable',
] as const;
export type ErrorCode = (typeof errorCodes)[number];

export interface FieldError {
  path: string;
  message: string;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly errors: FieldError[] | undefined;
  /** Response headers the answer needs (Retry-After, Content-Range): set by problem-json.ts with the status. */
  readonly headers: Readonly<Record<string, string>>;
  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; errors?: FieldError[]; headers?: Record<string, string> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = code;
    this.code = code;
    this.errors = options?.errors;
    this.headers = options?.headers ?? {};
  }
}

export class Invalid extends AppError {
  constructor(message: string, errors?: FieldError[], cause?: unknown) {
    super('Invalid', message, { errors, cause });
  }
  /** One field, one rule: the common case. */
  static field(path: string, message: string): Invalid {
    return new Invalid(`${path}: ${message}`, [{ path, message }]);
  }
}

/** Well-formed input that cannot be acted on (e.g. a query the database rejects). */
export class Unprocessable extends AppError {
  constructor(message: string, errors?: FieldError[], cause?: unknown) {
    super('Unprocessable', message, { errors, cause });
  }
}

export class Unauthorized extends AppError {
  constructor(message = 'Authentication required') {
    super('Unauthorized', message);
  }
}

export class Forbidden extends AppError {
  constructor(message: string) {
    super('Forbidden', message);
  }
}

export class NotFound extends AppError {
  constructor(what: string) {
    super('NotFound', `${what} not found`);
  }
}

export class Conflict extends AppError {
  constructor(message: string) {
    super('Conflict', message);
  }
}

export class RateLimited extends AppError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super('RateLimited', `Too many requests; try again in ${retryAfterSeconds} s`, {
      headers: { 'retry-after': String(retryAfterSeconds) },
    });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class Unavailable extends AppError {
  constructor(message: string, cause?: unknown) {
    super('Unavailable', message, { cause });
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** A readable message for any thrown value, never "[object Object]". */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}
