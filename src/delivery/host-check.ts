import { lookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { DeliveryError, type OutboundPolicy } from './types.ts';

// Ferry's one set of outbound address rules, for every channel that connects to
// a host a tenant typed in (webhook and Teams URLs, SFTP servers, S3 endpoints).
// Loopback, private, link-local (the cloud metadata address), CGNAT and the other
// special ranges are refused unless the operator allow-lists them
// (OutboundPolicy.allowPrivate: exact host names, IP literals or CIDR ranges).
// An IPv4-mapped IPv6 address reaches its IPv4 host, so it is judged by that
// address. Every address a name resolves to is checked, and the caller connects
// to the checked addresses, so a DNS answer cannot change between check and use.
// A name that does not resolve is a retryable failure: DNS that fails today
// (a missing record, a resolver down) may answer tomorrow.

export interface CheckedAddress {
  address: string;
  family: number;
}
/** Every address of a host name. */
export type Resolver = (hostname: string) => Promise<CheckedAddress[]>;

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** getaddrinfo, so /etc/hosts counts. */
export const systemResolve: Resolver = (hostname) => lookup(hostname, { all: true, order: 'verbatim' });

const rangeNames: Record<string, string> = {
  loopback: 'a loopback address',
  private: 'a private address',
  linkLocal: 'a link-local address',
  carrierGradeNat: 'a carrier-grade NAT address',
  uniqueLocal: 'a private (unique local) IPv6 address',
  unspecified: 'an unspecified address',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
  rfc6052: 'a NAT64 address',
  rfc6145: 'an IPv4-translated IPv6 address',
  '6to4': 'a 6to4 address',
  teredo: 'a Teredo address',
};

/** A host as compared: lower case, without IPv6 brackets or a trailing dot. */
export function normalizeHost(host: string): string {
  return host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.+$/, '');
}

/** The IPv4 address an IPv4-mapped IPv6 address reaches, or null for any other address. */
function embeddedIPv4(address: Address): ipaddr.IPv4 | null {
  return address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress() ? address.toIPv4Address() : null;
}

/** An allow-list entry as an address range, or null for a host name. */
function rangeOf(entry: string): [Address, number] | null {
  if (ipaddr.isValidCIDR(entry)) return ipaddr.parseCIDR(entry);
  if (!ipaddr.isValid(entry)) return null;
  const one = ipaddr.parse(entry);
  return [one, one.kind() === 'ipv4' ? 32 : 128];
}

function isAllowListed(host: string, address: Address | null, policy: OutboundPolicy): boolean {
  const mapped = address && embeddedIPv4(address);
  const forms = address === null ? [] : mapped ? [address, mapped] : [address];
  return policy.allowPrivate.some((raw) => {
    const entry = normalizeHost(raw);
    if (entry === host) return true;
    const range = rangeOf(entry);
    return range !== null && forms.some((form) => form.kind() === range[0].kind() && form.match(range));
  });
}

/** Whether the operator allow-listed this host: by name, or as an IP literal within an allowed range. */
export function isHostAllowListed(hostname: string, policy: OutboundPolicy): boolean {
  const host = normalizeHost(hostname);
  return isAllowListed(host, ipaddr.isValid(host) ? ipaddr.parse(host) : null, policy);
}

function reasonOf(address: Address): string | null {
  const range = address.range();
  if (range === 'unicast') return null;
  if (address.toString() === '169.254.169.254') return 'the cloud metadata address';
  return rangeNames[range] ?? `a reserved address (${range})`;
}

/** Why `address` (one of `host`'s) may not be connected to, or null when it may. */
export function refusalOf(host: string, address: string, policy: OutboundPolicy): string | null {
  const parsed = ipaddr.parse(address);
  if (isAllowListed(normalizeHost(host), parsed, policy)) return null;
  const mapped = embeddedIPv4(parsed);
  if (!mapped) return reasonOf(parsed);
  const reason = reasonOf(mapped);
  return reason && `an IPv4-mapped address of ${mapped}, ${reason}`;
}

function refused(shown: string, message: string): DeliveryError {
  return new DeliveryError(`${shown}: ${message}`, { retryable: false, details: { host: shown } });
}

/**
 * The address of `host` when it is an IP literal the policy allows; null when
 * `host` is a name. Throws a permanent DeliveryError for a refused literal,
 * prefixed with `shown` (a URL's host:port) when given.
 */
export function checkAddressLiteral(
  host: string,
  policy: OutboundPolicy,
  shown?: string,
): CheckedAddress | null {
  const name = normalizeHost(host);
  if (!ipaddr.isValid(name)) return null;
  const reason = refusalOf(name, name, policy);
  if (reason) {
    throw shown
      ? refused(shown, `${name} is ${reason}`)
      : new DeliveryError(`${name} is ${reason}`, { retryable: false, details: { host: name } });
  }
  return { address: name, family: ipaddr.parse(name).kind() === 'ipv4' ? 4 : 6 };
}

function unresolved(host: string, why: string | undefined, cause?: unknown): DeliveryError {
  return new DeliveryError(`Cannot resolve ${host}${why ? ` (${why})` : ''}`, {
    retryable: true,
    details: { host },
    cause,
  });
}

/** The resolver's answer, or a retryable DeliveryError when it fails or takes longer than the policy allows. */
async function resolveWithin(
  host: string,
  policy: OutboundPolicy,
  resolve: Resolver,
): Promise<CheckedAddress[]> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(unresolved(host, `no answer within ${policy.timeoutMs / 1000} s`)),
      policy.timeoutMs,
    );
  });
  try {
    return await Promise.race([resolve(host), late]);
  } catch (err) {
    if (err instanceof DeliveryError) throw err;
    throw unresolved(host, (err as { code?: string }).code, err);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The addresses of the name `host` (of `family` only, when given: those are all
 * a socket will be handed), only if every one of them may be connected to.
 */
async function resolveChecked(
  host: string,
  policy: OutboundPolicy,
  resolve: Resolver,
  family = 0,
): Promise<CheckedAddress[]> {
  const all = await resolveWithin(host, policy, resolve);
  const addresses = family ? all.filter((a) => a.family === family) : all;
  if (addresses.length === 0) throw unresolved(host, family ? `no IPv${family} address` : undefined);
  for (const { address } of addresses) {
    const reason = refusalOf(host, address, policy);
    if (reason) throw refused(host, `resolves to ${address}, ${reason}`);
  }
  return addresses;
}

/**
 * The addresses of `host` (a name or an IP literal), only if every one of them
 * may be connected to. A DeliveryError otherwise: permanent for a refused
 * address, retryable when the name does not resolve.
 */
export async function resolveCheckedHost(
  host: string,
  policy: OutboundPolicy,
  resolve: Resolver = systemResolve,
): Promise<CheckedAddress[]> {
  const literal = checkAddressLiteral(host, policy);
  return literal ? [literal] : resolveChecked(normalizeHost(host), policy, resolve);
}

/**
 * A `lookup` for sockets (undici, http.Agent, net.connect) that resolves, checks
 * every address and hands back only checked ones. Sockets skip `lookup` for IP
 * literals: check those with checkAddressLiteral before connecting.
 */
export function checkedLookup(policy: OutboundPolicy, resolve: Resolver = systemResolve): LookupFunction {
  return (hostname, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0);
    resolveChecked(normalizeHost(hostname), policy, resolve, family).then(
      (addresses) => {
        const [first] = addresses;
        if (options.all) callback(null, addresses);
        else callback(null, first!.address, first!.family);
      },
      (err: Error) => callback(err as NodeJS.ErrnoException, '', 0),
    );
  };
}
