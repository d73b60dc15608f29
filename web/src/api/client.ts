import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './schema';

// The browser speaks to Ferry only through its public API, with the session
// cookie. Every request carries `X-Requested-With: ferry`, which the server
// requires on cookie-authenticated writes (a cross-site form cannot send it).

type Json<R> = R extends { content: { 'application/json': infer T } } ? T : never;
type Method<P extends keyof paths> = Exclude<keyof paths[P], 'parameters'>;

/** The JSON body of a path's success answer (200, 201 or 202), e.g. `ResponseOf<'/api/v1/runs/{id}', 'get'>`. */
export type ResponseOf<P extends keyof paths, M extends Method<P>> = paths[P][M] extends {
  responses: infer R;
}
  ? R extends { 200: infer A }
    ? Json<A>
    : R extends { 201: infer B }
      ? Json<B>
      : R extends { 202: infer C }
        ? Json<C>
        : never
  : never;

/** The JSON request body of a path, e.g. `BodyOf<'/api/v1/reports', 'post'>`. */
export type BodyOf<P extends keyof paths, M extends Method<P>> = paths[P][M] extends {
  requestBody?: { content: { 'application/json': infer B } };
}
  ? B
  : never;

/** The query parameters of a path. */
export type QueryOf<P extends keyof paths, M extends Method<P>> = paths[P][M] extends {
  parameters: { query?: infer Q };
}
  ? NonNullable<Q>
  : never;

export interface FieldError {
  path: string;
  message: string;
}

/** An application/problem+json answer (RFC 9457), thrown by `unwrap`. */
export class ApiError extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly errors: FieldError[];
  readonly requestId: string | undefined;
  readonly retryAfter: number | undefined;

  constructor(status: number, body: unknown, retryAfter?: number) {
    const problem = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const detail =
      typeof problem['detail'] === 'string'
        ? problem['detail']
        : typeof body === 'string' && body
          ? body
          : `HTTP ${status}`;
    super(detail);
    this.status = status;
    this.title = typeof problem['title'] === 'string' ? problem['title'] : `HTTP ${status}`;
    this.detail = detail;
    this.errors = Array.isArray(problem['errors']) ? (problem['errors'] as FieldError[]) : [];
    this.requestId = typeof problem['requestId'] === 'string' ? problem['requestId'] : undefined;
    this.retryAfter = retryAfter;
  }
}

/** Raised when the session ended: the app sends the user to the sign-in page. */
export const SESSION_ENDED_EVENT = 'ferry:session-ended';

// A 401 means a session ended only after one existed: the first look at /me of a
// visitor who never signed in is a plain 401 that the app answers with sign-in.
let hadSession = false;
/** After signing out: the next 401 is not a session that ended. */
export function forgetSession(): void {
  hadSession = false;
}

const sessionWatch: Middleware = {
  onResponse({ response, request }) {
    const path = new URL(request.url).pathname;
    if (response.ok && path === '/api/v1/me') hadSession = true;
    if (response.status === 401 && hadSession && !path.startsWith('/api/v1/auth/')) {
      hadSession = false;
      window.dispatchEvent(new Event(SESSION_ENDED_EVENT));
    }
    return response;
  },
};

// Schedule descriptions are written by the server in the caller's language: the
// app's language as the language menu stored it, or else the browser's.
const appLanguage: Middleware = {
  onRequest({ request }) {
    const stored = localStorage.getItem('ferry.language');
    request.headers.set('Accept-Language', stored === 'en' || stored === 'de' ? stored : navigator.language);
    return request;
  },
};

export const api = createClient<paths>({
  baseUrl: window.location.origin,
  credentials: 'same-origin',
  headers: { 'X-Requested-With': 'ferry' },
});
api.use(sessionWatch, appLanguage);

/** Resolves an openapi-fetch result to its data, or throws an ApiError with the problem details. */
export async function unwrap<T>(
  pending: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await pending;
  if (!response.ok || error !== undefined) {
    const retry = Number(response.headers.get('retry-after'));
    throw new ApiError(response.status, error, Number.isFinite(retry) && retry > 0 ? retry : undefined);
  }
  return data as T;
}

/** The message to show for any error thrown by a query or mutation. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.detail;
  if (error instanceof Error) return error.message;
  return String(error);
}
