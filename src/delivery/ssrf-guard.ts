import type { Agent, BodyInit, Response } from 'undici';
import { lazyModule } from '../lib/lazy-module.ts';
import {
  checkAddressLiteral,
  checkedLookup,
  type Resolver,
  resolveCheckedHost,
  systemResolve,
} from './host-check.ts';
import { DeliveryError, type OutboundPolicy, type SendOptions } from './types.ts';

// Outbound HTTP to user-given URLs (webhooks, Teams). A URL names a host; what
// matters is the address the socket connects to. So the host is resolved once,
// inside the connection's own `lookup`, every address is checked, and the socket
// is handed exactly the checked addresses: a DNS answer that changes between a
// check and the connect (rebinding) cannot slip through. IP literals skip
// `lookup`, so they are checked before the request. Redirects are followed by
// hand, each hop checked the same way. The address rules themselves are
// host-check.ts's, shared with every other channel.
//
// Messages name the host only, never the whole URL: a query string may hold a
// credential (a Teams workflow URL's `sig`).

export { isHostAllowListed, type Resolver } from './host-check.ts';

export interface GuardOptions extends SendOptions {
  /** Answers DNS instead of the system resolver (getaddrinfo, so /etc/hosts counts): a seam for tests. */
  resolve?: Resolver | undefined;
}

export interface SafeRequest {
  method?: string;
  headers?: Record<string, string>;
  /** Made afresh for every hop that sends it, so a 307/308 redirect can send the same bytes again. */
  body?: (() => BodyInit | Promise<BodyInit>) | undefined;
}

export const MAX_REDIRECTS = 5;
const MAX_EXCERPT = 300;

function refused(host: string, message: string): DeliveryError {
  return new DeliveryError(`${host}: ${message}`, { retryable: false, details: { host } });
}

/** The checks a URL passes before any network: scheme, no userinfo, and the address of an IP literal. */
function checkShape(input: string | URL, policy: OutboundPolicy): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new DeliveryError('Not a valid URL', { retryable: false });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw refused(url.host, `only http and https URLs are allowed, not ${url.protocol.slice(0, -1)}`);
  }
  if (url.username || url.password) {
    throw refused(url.host, 'the URL holds a user name or password; put credentials in a header instead');
  }
  checkAddressLiteral(url.hostname, policy, url.host);
  return url;
}

/**
 * Checks a URL before it is saved as a destination: the same rules as a send,
 * with the host resolved now. Throws a DeliveryError naming why it is refused
 * (retryable false), or that the host cannot be resolved (retryable true).
 */
export async function checkUrl(
  input: string | URL,
  policy: OutboundPolicy,
  resolve?: Resolver,
): Promise<{ url: URL; addresses: string[] }> {
  const url = checkShape(input, policy);
  const addresses = await resolveCheckedHost(url.hostname, policy, resolve);
  return { url, addresses: addresses.map((a) => a.address) };
}

// One connection pool per set of rules (and resolver): deliveries to the same
// receiver reuse a connection, saving a TLS handshake each time, and every new
// connection still goes through the checked lookup. Pools are found by the
// rules' content, not the policy object: each delivery is handed a policy
// object of its own, and keying on it made a pool (and a connection) per delivery.
/** undici, loaded with the first outbound request (~25 MB and 0.1 s at every start otherwise). */
export const undici = lazyModule<typeof import('undici')>('undici');

const agents = new WeakMap<Resolver, Map<string, Agent>>();

function agentFor(policy: OutboundPolicy, resolve: Resolver = systemResolve): Agent {
  let byRules = agents.get(resolve);
  if (!byRules) {
    byRules = new Map();
    agents.set(resolve, byRules);
  }
  const rules = JSON.stringify([policy.timeoutMs, policy.allowPrivate]);
  let agent = byRules.get(rules);
  if (!agent) {
    agent = new (undici().Agent)({ connect: { lookup: checkedLookup(policy, resolve) } });
    byRules.set(rules, agent);
  }
  return agent;
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

// A hop is followed only when the request can be repeated as it was: GET/HEAD
// on any redirect, other methods only on 307/308 (which keep method and body).
// A 301/302/303 turns a POST into a GET that drops the payload, and the GET's
// 200 would count as delivered: such answers go back to the caller instead.
function canFollow(method: string, status: number): boolean {
  return method === 'GET' || method === 'HEAD' || status === 307 || status === 308;
}

const credentialHeaders = ['authorization', 'cookie', 'proxy-authorization'];

function headersForHop(headers: Record<string, string>, from: URL, to: URL): Record<string, string> {
  if (from.origin === to.origin) return headers;
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !credentialHeaders.includes(name.toLowerCase())),
  );
}

/**
 * fetch for user-given URLs: only public addresses (or the operator's
 * allow-list), at most MAX_REDIRECTS redirects, each checked, within the
 * policy's time limit. The caller must read or cancel the response body.
 * Failures are DeliveryErrors: refused → retryable false; DNS, connection and
 * timeout → retryable true. An abort by `options.signal` throws its reason.
 */
export async function safeFetch(
  input: string | URL,
  request: SafeRequest,
  options: GuardOptions,
): Promise<Response> {
  let url = checkShape(input, options.outbound);
  const method = (request.method ?? 'GET').toUpperCase();
  let headers = request.headers ?? {};
  const timeout = AbortSignal.timeout(options.outbound.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const agent = agentFor(options.outbound, options.resolve);
  let redirects = 0;
  try {
    for (;;) {
      const body = request.body ? await request.body() : null;
      const init = {
        method,
        headers,
        body,
        redirect: 'manual',
        signal,
        dispatcher: agent,
        duplex: 'half',
      } as const;
      const response = await undici().fetch(url, init);
      const location = response.headers.get('location');
      if (!isRedirect(response.status) || !location || !canFollow(method, response.status)) {
        return response;
      }
      await response.body?.cancel();
      if (redirects === MAX_REDIRECTS) throw refused(url.host, 'redirects once more, beyond the limit');
      redirects++;
      const next = checkShape(new URL(location, url), options.outbound);
      headers = headersForHop(headers, url, next);
      url = next;
    }
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason ?? err;
    const failure = describeFailure(err, url, timeout.aborted, options.outbound.timeoutMs);
    if (redirects === 0) throw failure;
    throw new DeliveryError(`After ${redirects} redirect${redirects === 1 ? '' : 's'}: ${failure.message}`, {
      retryable: failure.retryable,
      details: { ...failure.details, redirects },
      cause: failure,
    });
  }
}

function describeFailure(err: unknown, url: URL, timedOut: boolean, timeoutMs: number): DeliveryError {
  if (timedOut) {
    return new DeliveryError(`${url.host} did not answer within ${timeoutMs / 1000} s`, {
      retryable: true,
      details: { host: url.host },
      cause: err,
    });
  }
  // undici reports "fetch failed" and keeps the socket's error (ours, from lookup, included) as the cause.
  let innermost: unknown = err;
  for (let cause: unknown = err; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof DeliveryError) return cause;
    innermost = cause;
  }
  const code = (innermost as { code?: unknown }).code;
  const details = { host: url.host, ...(typeof code === 'string' ? { code } : {}) };
  const reason =
    code === 'ECONNRESET'
      ? 'connection reset'
      : innermost instanceof Error
        ? innermost.message
        : String(innermost);
  const message =
    code === 'ECONNREFUSED'
      ? `Cannot connect to ${url.host}: connection refused`
      : `Request to ${url.host} failed: ${reason}`;
  return new DeliveryError(message, { retryable: true, details, cause: err });
}

/** The start of an answer's body, on one line, for receipts and error messages; the rest is not read. */
export async function readExcerpt(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    while (length < MAX_EXCERPT * 4) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.byteLength;
    }
  } catch {
    // A body cut short (timeout, reset) still gives what arrived.
  } finally {
    reader.cancel().catch(() => {});
  }
  const text = Buffer.concat(chunks).toString('utf8').replace(/\s+/g, ' ').trim();
  return text.length > MAX_EXCERPT ? `${text.slice(0, MAX_EXCERPT - 1)}…` : text;
}

/** Retry-After as milliseconds from now: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * A non-2xx answer as a DeliveryError: 408, 429 and 5xx may pass later
 * (retryable, with Retry-After); other 4xx and unfollowed 3xx will not.
 */
export function httpFailure(response: Response, excerpt: string, host: string): DeliveryError {
  const status = response.status;
  const retryable = status === 408 || status === 429 || status >= 500;
  const answer = `HTTP ${status}${response.statusText ? ` ${response.statusText}` : ''}`;
  const hint = status >= 300 && status < 400 ? ' (a redirect that cannot be followed with this request)' : '';
  return new DeliveryError(`${host} answered ${answer}${hint}${excerpt ? `: ${excerpt}` : ''}`, {
    retryable,
    retryAfterMs: retryable ? parseRetryAfter(response.headers.get('retry-after')) : undefined,
    details: { status, body: excerpt },
  });
}
