import { lookup as systemLookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, type BodyInit, fetch, type Response } from 'undici';
import { DeliveryError, type OutboundPolicy, type SendOptions } from './types.ts';

// Outbound HTTP to user-given URLs (webhooks, Teams). A URL names a host; what
// matters is the address the socket connects to. So the host is resolved once,
// inside the connection's own `lookup`, every address is checked, and the socket
// is handed exactly the checked addresses: a DNS answer that changes between a
// check and the connect (rebinding) cannot slip through. IP literals skip
// `lookup`, so they are checked before the request. Redirects are followed by
// hand, each hop checked the same way.
//
// Messages name the host only, never the whole URL: a query string may hold a
// credential (a Teams workflow URL's `sig`).

export interface ResolvedAddress {
  address: string;
  family: number;
}
/** Every address of a host name. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

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

const systemResolve: Resolver = (hostname) => systemLookup(hostname, { all: true, order: 'verbatim' });

const refusedRanges: Record<string, string> = {
  loopback: 'a loopback address',
  private: 'a private address',
  linkLocal: 'a link-local address',
  carrierGradeNat: 'a carrier-grade NAT address',
  uniqueLocal: 'a private (unique local) IPv6 address',
  ipv4Mapped: 'an IPv4-mapped IPv6 address',
  rfc6145: 'an IPv4-translated IPv6 address',
  rfc6052: 'a NAT64 address',
  '6to4': 'a 6to4 address',
  teredo: 'a Teredo address',
  unspecified: 'an unspecified address',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
};

interface AllowList {
  hosts: Set<string>;
  ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][];
}

function normalizeHost(host: string): string {
  return host
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.+$/, '');
}

function compileAllowList(entries: readonly string[]): AllowList {
  const list: AllowList = { hosts: new Set(), ranges: [] };
  for (const raw of entries) {
    const entry = normalizeHost(raw.trim());
    if (ipaddr.isValidCIDR(entry)) list.ranges.push(ipaddr.parseCIDR(entry));
    else if (ipaddr.isValid(entry)) {
      const address = ipaddr.parse(entry);
      list.ranges.push([address, address.kind() === 'ipv4' ? 32 : 128]);
    } else list.hosts.add(entry);
  }
  return list;
}

function isAllowListed(address: ipaddr.IPv4 | ipaddr.IPv6, list: AllowList): boolean {
  // An IPv4-mapped address reaches the IPv4 host: allow-listing 127.0.0.1 covers ::ffff:127.0.0.1.
  const forms =
    address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress()
      ? [address, address.toIPv4Address()]
      : [address];
  return forms.some((form) =>
    list.ranges.some((range) => range[0].kind() === form.kind() && form.match(range)),
  );
}

/** Whether the operator allow-listed this host: by name, or as an IP literal within an allowed range. */
export function isHostAllowListed(hostname: string, policy: OutboundPolicy): boolean {
  const list = compileAllowList(policy.allowPrivate);
  const host = normalizeHost(hostname);
  return list.hosts.has(host) || (ipaddr.isValid(host) && isAllowListed(ipaddr.parse(host), list));
}

/** Why an address may not be connected to, or null when it may. */
function refusalOf(address: string, list: AllowList): string | null {
  const parsed = ipaddr.parse(address);
  if (isAllowListed(parsed, list)) return null;
  const range = parsed.range();
  if (range === 'unicast') return null;
  if (address === '169.254.169.254') return 'the cloud metadata address';
  return refusedRanges[range] ?? `a reserved address (${range})`;
}

function refused(host: string, message: string): DeliveryError {
  return new DeliveryError(`${host}: ${message}`, { retryable: false, details: { host } });
}

/** The checks a URL passes before any network: scheme, no userinfo, and the address of an IP literal. */
function checkShape(input: string | URL, list: AllowList): URL {
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
  const host = normalizeHost(url.hostname);
  if (ipaddr.isValid(host)) {
    const reason = refusalOf(host, list);
    if (reason) throw refused(url.host, `${host} is ${reason}`);
  }
  return url;
}

/** Resolves a host name and returns its addresses only if every one of them may be connected to. */
async function resolveChecked(
  hostname: string,
  list: AllowList,
  resolve: Resolver,
): Promise<ResolvedAddress[]> {
  const host = normalizeHost(hostname);
  let addresses: ResolvedAddress[];
  try {
    addresses = await resolve(host);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new DeliveryError(`Cannot resolve ${host}${code ? ` (${code})` : ''}`, {
      retryable: true,
      details: { host },
      cause: err,
    });
  }
  if (addresses.length === 0) throw new DeliveryError(`Cannot resolve ${host}`, { retryable: true });
  if (list.hosts.has(host)) return addresses;
  for (const { address } of addresses) {
    const reason = refusalOf(address, list);
    if (reason) throw refused(host, `resolves to ${address}, ${reason}`);
  }
  return addresses;
}

/**
 * Checks a URL before it is saved as a destination: the same rules as a send,
 * with the host resolved now. Throws a DeliveryError naming why it is refused
 * (retryable false), or that the host cannot be resolved (retryable true).
 */
export async function checkUrl(
  input: string | URL,
  policy: OutboundPolicy,
  resolve: Resolver = systemResolve,
): Promise<{ url: URL; addresses: string[] }> {
  const list = compileAllowList(policy.allowPrivate);
  const url = checkShape(input, list);
  const host = normalizeHost(url.hostname);
  if (ipaddr.isValid(host)) return { url, addresses: [host] };
  const addresses = await resolveChecked(host, list, resolve);
  return { url, addresses: addresses.map((a) => a.address) };
}

function guardedLookup(list: AllowList, resolve: Resolver): LookupFunction {
  return (hostname, options, callback) => {
    resolveChecked(hostname, list, resolve).then(
      (all) => {
        const addresses = options.family ? all.filter((a) => a.family === options.family) : all;
        const first = addresses[0];
        if (!first) callback(refused(hostname, `has no IPv${options.family} address`), '', 0);
        else if (options.all) callback(null, addresses);
        else callback(null, first.address, first.family);
      },
      (err: Error) => callback(err, '', 0),
    );
  };
}

// One connection pool per policy (and resolver): deliveries to the same receiver
// reuse a connection, saving a TLS handshake each time, and every new connection
// still goes through the guarded lookup.
const agents = new WeakMap<OutboundPolicy, WeakMap<Resolver, Agent>>();

function agentFor(policy: OutboundPolicy, resolve: Resolver): Agent {
  let byResolver = agents.get(policy);
  if (!byResolver) {
    byResolver = new WeakMap();
    agents.set(policy, byResolver);
  }
  let agent = byResolver.get(resolve);
  if (!agent) {
    agent = new Agent({ connect: { lookup: guardedLookup(compileAllowList(policy.allowPrivate), resolve) } });
    byResolver.set(resolve, agent);
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
  const list = compileAllowList(options.outbound.allowPrivate);
  let url = checkShape(input, list);
  const method = (request.method ?? 'GET').toUpperCase();
  let headers = request.headers ?? {};
  const timeout = AbortSignal.timeout(options.outbound.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const agent = agentFor(options.outbound, options.resolve ?? systemResolve);
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
      const response = await fetch(url, init);
      const location = response.headers.get('location');
      if (!isRedirect(response.status) || !location || !canFollow(method, response.status)) {
        return response;
      }
      await response.body?.cancel();
      if (redirects === MAX_REDIRECTS) throw refused(url.host, 'redirects once more, beyond the limit');
      redirects++;
      const next = checkShape(new URL(location, url), list);
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
