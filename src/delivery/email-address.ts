import { Invalid } from '../lib/errors.ts';

// E-mail addresses as users type them into a recipient list: a practical check
// (one "@", a dotted domain, no spaces or brackets), not the full RFC 5322
// grammar, whose quoted local parts and comments nobody puts in a report's
// recipient list and which only widen the room for header tricks.

const MAX_ADDRESS_LENGTH = 254;
const MAX_LOCAL_LENGTH = 64;
// Letters and digits of any script (internationalised addresses) plus the
// specials RFC 5322 allows unquoted in a local part.
const LOCAL_PART = /^[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+(?:\.[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+)*$/u;
const DOMAIN_LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?$/u;

export function isValidEmailAddress(s: string): boolean {
  if (s.length === 0 || s.length > MAX_ADDRESS_LENGTH) return false;
  const at = s.lastIndexOf('@');
  if (at <= 0 || at > MAX_LOCAL_LENGTH) return false;
  const local = s.slice(0, at);
  const domain = s.slice(at + 1);
  if (!LOCAL_PART.test(local)) return false;
  const labels = domain.split('.');
  // A bare host name ("root@localhost") is almost always a typo in a recipient list.
  if (labels.length < 2) return false;
  if (!labels.every((label) => DOMAIN_LABEL.test(label))) return false;
  // An all-numeric last label is an IP address or a typo, never a top-level domain.
  return !/^\d+$/.test(labels.at(-1) ?? '');
}

/**
 * Trims each entry, lowercases its domain (local parts may be case-sensitive,
 * domains never are) and drops duplicates, keeping the first spelling's order.
 * Throws Invalid naming the first bad entry, e.g. `notify.emails.2`.
 */
export function parseAddressList(input: readonly string[], path = 'to'): string[] {
  const seen = new Set<string>();
  const addresses: string[] = [];
  input.forEach((entry, index) => {
    const address = normaliseAddress(entry);
    if (!isValidEmailAddress(address)) {
      throw Invalid.field(`${path}.${index}`, `${JSON.stringify(entry)} is not a valid e-mail address`);
    }
    if (seen.has(address)) return;
    seen.add(address);
    addresses.push(address);
  });
  return addresses;
}

function normaliseAddress(entry: string): string {
  const trimmed = entry.trim();
  const at = trimmed.lastIndexOf('@');
  if (at < 0) return trimmed;
  return `${trimmed.slice(0, at)}@${trimmed.slice(at + 1).toLowerCase()}`;
}
