import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorCode, type FieldError } from '../../lib/errors.ts';
import type { App } from '../types.ts';

// The one place where errors become HTTP answers: application/problem+json
// (RFC 9457) with type, title, status, detail and, for validation, errors[].

const statusOf: Record<ErrorCode, number> = {
  Invalid: 400,
  Unprocessable: 422,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  Gone: 410,
  TooLarge: 413,
  RangeNotSatisfiable: 416,
  RateLimited: 429,
  Retryable: 503,
  Permanent: 500,
  Unavailable: 503,
};

const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  requestId?: string;
  errors?: FieldError[];
}

function problemType(status: number): string {
  const slug = (titles[status] ?? 'error').toLowerCase().replace(/[^a-z]+/g, '-');
  return `urn:ferry:problem:${slug}`;
}

export function sendProblem(
  reply: FastifyReply,
  request: FastifyRequest,
  status: number,
  detail: string,
  errors?: FieldError[],
) {
  const body: Problem = {
    type: problemType(status),
    title: titles[status] ?? 'Error',
    status,
    detail,
    instance: request.url.split('?')[0]!.replace(/^\/d\/[^/]+/, '/d/…'),
    requestId: String(request.id),
    ...(errors && errors.length > 0 ? { errors } : {}),
  };
  return reply.code(status).type('application/problem+json; charset=utf-8').send(body);
}

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Turns ajv errors into `{path, message}` with a JSON-pointer-like dotted path that names the field. */
export function fieldErrors(part: string, validation: AjvError[]): FieldError[] {
  // A union of literals (a TypeBox enum) fails once per allowed value ("must be
  // equal to constant") and once for the union: said once, with the values.
  const constants = new Map<string, unknown[]>();
  for (const e of validation)
    if (e.keyword === 'const') {
      const list = constants.get(e.instancePath) ?? [];
      list.push(e.params['allowedValue']);
      constants.set(e.instancePath, list);
    }
  const merged: AjvError[] = [];
  for (const e of validation) {
    const allowed = constants.get(e.instancePath);
    if (allowed && e.keyword === 'const') continue;
    if (allowed && e.keyword === 'anyOf') {
      merged.push({ ...e, keyword: 'enum', params: { allowedValues: allowed } });
      continue;
    }
    merged.push(e);
  }
  // A const failure without its union (a single literal) still says what it must be.
  for (const [instancePath, allowed] of constants)
    if (!validation.some((e) => e.instancePath === instancePath && e.keyword === 'anyOf'))
      merged.push({ instancePath, keyword: 'enum', params: { allowedValues: allowed } });
  return merged.map((e) => {
    const segments = e.instancePath.split('/').filter(Boolean);
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'required') segments.push(String(e.params['missingProperty']));
    if (e.keyword === 'additionalProperties') {
      segments.push(String(e.params['additionalProperty']));
      message = 'is not a known field';
    }
    if (e.keyword === 'enum')
      message = `must be one of ${(e.params['allowedValues'] as unknown[]).join(', ')}`;
    if (e.keyword === 'required') message = 'is required';
    const path = [part === 'body' ? '' : part, ...segments].filter(Boolean).join('.');
    return { path: path || part, message };
  });
}

/**
 * Problem details for every error; `fallback` may answer a request no route
 * matched (the web app's pages) before it becomes a 404.
 */
export function registerProblemJson(
  app: App,
  fallback?: (request: FastifyRequest, reply: FastifyReply) => boolean,
): void {
  app.setErrorHandler(
    (error: FastifyError & { validation?: AjvError[]; validationContext?: string }, request, reply) => {
      if (error instanceof AppError) {
        const status = statusOf[error.code];
        if (status >= 500) request.log.error({ err: error }, error.message);
        for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
        if (status === 401) reply.header('www-authenticate', 'Bearer realm="ferry"');
        return sendProblem(
          reply,
          request,
          status,
          status >= 500 && error.code === 'Permanent' ? 'Internal error' : error.message,
          error.errors,
        );
      }
      if (error.validation) {
        const part = error.validationContext ?? 'body';
        const errors = fieldErrors(part, error.validation);
        const detail = errors.map((e) => `${e.path} ${e.message}`).join('; ');
        return sendProblem(reply, request, 400, `Invalid ${part}: ${detail}`, errors);
      }
      switch (error.code) {
        case 'FST_ERR_CTP_INVALID_JSON_BODY':
        case 'FST_ERR_CTP_EMPTY_JSON_BODY':
          return sendProblem(reply, request, 400, `The request body is not valid JSON: ${error.message}`, [
            { path: 'body', message: 'is not valid JSON' },
          ]);
        case 'FST_ERR_CTP_BODY_TOO_LARGE':
          return sendProblem(reply, request, 413, 'The request body is larger than the 1 MB limit', [
            { path: 'body', message: 'is larger than 1 MB' },
          ]);
        case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
          return sendProblem(reply, request, 415, 'Send the request body as application/json', [
            { path: 'content-type', message: 'must be application/json' },
          ]);
      }
      if (error instanceof SyntaxError && (error as { statusCode?: number }).statusCode === 400) {
        return sendProblem(reply, request, 400, `The request body is not valid JSON: ${error.message}`, [
          { path: 'body', message: 'is not valid JSON' },
        ]);
      }
      const status =
        typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500
          ? error.statusCode
          : 500;
      if (status === 500) {
        request.log.error({ err: error }, 'unhandled error');
        return sendProblem(
          reply,
          request,
          500,
          `Internal error; quote request id ${request.id} when reporting it`,
        );
      }
      return sendProblem(reply, request, status, error.message);
    },
  );

  app.setNotFoundHandler((request, reply) =>
    fallback?.(request, reply)
      ? reply
      : sendProblem(
          reply,
          request,
          404,
          `No route ${request.method} ${request.url.split('?')[0]!.replace(/^\/d\/[^/]+/, '/d/…')}`,
        ),
  );
}
