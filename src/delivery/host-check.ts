import { type LookupAddress, lookup } from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { DeliveryError, type OutboundPolicy } from './types.ts';

// Hosts a tenant types in (an SFTP server, a custom S3 endpoint) must not lead
// Ferry into its own network: loopback, private, link-local (the cloud metadata
// address), CGNAT and the other special ranges are refused unless the operator
// allow-lists them (OutboundPolicy.allowPrivate: host names, addresses or CIDR
// ranges). Every address a name resolves to is checked, and the caller connects
// to the checked addresses, so a DNS answer cannot change between check and use.

export interface CheckedAddress {
  address: string;
  family: number;
}

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
  rfc6145: 'an IPv4-translated address',
  '6to4': 'a 6to4 address',
  teredo: 'a Teredo address',
};

function normalizeHost(host: string): string {
  return host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.+$/, '');
}

function isAllowListed(host: string, address: ipaddr.IPv4 | ipaddr.IPv6, policy: OutboundPolicy): boolean {
  // An IPv4-mapped IPv6 address reaches the IPv4 host: both forms are compared.
  const forms =
    address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()
      ? [address, (address as ipaddr.IPv6).toIPv4Address()]
      : [address];
  return policy.allowPrivate.some((raw) => {
    const entry = normalizeHost(raw);
    if (entry === host) return true;
    let range: [ipaddr.IPv4 | ipaddr.IPv6, number];
    if (ipaddr.isValidCIDR(entry)) range = ipaddr.parseCIDR(entry);
    else if (ipaddr.isValid(entry)) {
      const one = ipaddr.parse(entry);
      range = [one, one.kind() === 'ipv4' ? 32 : 128];
    } else return false;
    return forms.some((form) => form.kind() === range[0].kind() && form.match(range));
  });
}

/** Why `address` (of `host`) may not be connected to, or null when it may. */
export function refusalOf(host: string, address: string, policy: OutboundPolicy): string | null {
  const parsed = ipaddr.parse(address);
  if (isAllowListed(normalizeHost(host), parsed, policy)) return null;
  // An IPv4-mapped IPv6 address is judged by the IPv4 address it reaches.
  const range = ipaddr.process(address).range();
  if (range === 'unicast') return null;
  if (ipaddr.process(address).toString() === '169.254.169.254') return 'the cloud metadata address';
  return rangeNames[range] ?? `a reserved address (${range})`;
}

function refusedError(host: string, address: string, reason: string): DeliveryError {
  const shown = normalizeHost(host) === address ? address : `${host} resolves to ${address}, which`;
  return new DeliveryError(
    `${shown} is ${reason}; Ferry does not connect to such addresses unless the operator allows them`,
    { retryable: false, details: { host, address } },
  );
}

function resolutionError(host: string, err: NodeJS.ErrnoException): DeliveryError {
  // NXDOMAIN stays NXDOMAIN for a mistyped name; a failing resolver (EAI_AGAIN …) may recover.
  const notFound = err.code === 'ENOTFOUND';
  return new DeliveryError(
    notFound
      ? `Host ${host} not found: check its spelling`
      : `Cannot resolve ${host} (${err.code ?? err.message})`,
    { retryable: !notFound, details: { host, code: err.code }, cause: err },
  );
}

function resolveAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) =>
    lookup(host, { all: true, order: 'verbatim' }, (err, addresses) =>
      err ? reject(err) : resolve(addresses),
    ),
  );
}

function checkAll(host: string, addresses: readonly LookupAddress[], policy: OutboundPolicy): void {
  for (const { address } of addresses) {
    const reason = refusalOf(host, address, policy);
    if (reason) throw refusedError(host, address, reason);
  }
}

/**
 * The addresses of `host` (a name or an IP literal), only if every one of them
 * may be connected to; a DeliveryError otherwise (permanent for a refused
 * address or an unknown name).
 */
export async function resolveCheckedHost(host: string, policy: OutboundPolicy): Promise<CheckedAddress[]> {
  const name = normalizeHost(host);
  if (ipaddr.isValid(name)) {
    const reason = refusalOf(name, name, policy);
    if (reason) throw refusedError(name, name, reason);
    return [{ address: name, family: ipaddr.parse(name).kind() === 'ipv4' ? 4 : 6 }];
  }
  let addresses: LookupAddress[];
  try {
    addresses = await resolveAll(name);
  } catch (err) {
    throw resolutionError(name, err as NodeJS.ErrnoException);
  }
  if (addresses.length === 0) throw new DeliveryError(`Cannot resolve ${name}`, { retryable: true });
  checkAll(name, addresses, policy);
  return addresses;
}

/**
 * A `lookup` for sockets (http.Agent, net.connect) that resolves, checks every
 * address and hands back only checked ones. Sockets skip `lookup` for IP
 * literals: check those with resolveCheckedHost before connecting.
 */
export function checkedLookup(policy: OutboundPolicy): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true, order: 'verbatim' }, (err, addresses) => {
      if (err) return callback(resolutionError(hostname, err), '', 0);
      try {
        checkAll(hostname, addresses, policy);
      } catch (refused) {
        return callback(refused as NodeJS.ErrnoException, '', 0);
      }
      if (options.all) return (callback as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(resolutionError(hostname, new Error('no address')), '', 0);
      callback(null, first.address, first.family);
    });
  };
}
