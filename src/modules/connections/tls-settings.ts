import { createPrivateKey, X509Certificate } from 'node:crypto';
import { Invalid } from '../../lib/errors.ts';

// TLS material for a connection, given as PEM text: the CA and the client
// certificate are public (stored in clear, shown back), the client key and its
// passphrase are secrets (sealed, shown only as hasKey / hasPassphrase). Never a
// path: Ferry reads no file of its host for a tenant.

export interface TlsInput {
  /** Omitted: keep the stored value; null: remove it. */
  ca?: string | null | undefined;
  cert?: string | null | undefined;
  key?: string | null | undefined;
  passphrase?: string | null | undefined;
  servername?: string | null | undefined;
}

/** The public part, stored in clear. */
export interface StoredTls {
  ca?: string;
  cert?: string;
  servername?: string;
}

export interface TlsSettings {
  public: StoredTls;
  key?: string | undefined;
  passphrase?: string | undefined;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
const KEY_LABELS = ['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'ENCRYPTED PRIVATE KEY'];
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** The PEM blocks of a text that must be PEM blocks and nothing else. */
function pemBlocks(text: string, path: string, what: string): Array<{ label: string; pem: string }> {
  const trimmed = text.trim();
  if (!trimmed.includes('-----BEGIN ')) {
    const looksLikePath = /^(\/|~|\.{1,2}\/|[A-Za-z]:\\)/.test(trimmed) && !trimmed.includes('\n');
    throw Invalid.field(
      path,
      looksLikePath
        ? `must be the ${what} as PEM text (-----BEGIN …-----), not a file path`
        : `must be the ${what} as PEM text (-----BEGIN …-----)`,
    );
  }
  const blocks = [...trimmed.matchAll(BLOCK)].map((m) => ({ label: m[1]!, pem: m[0] }));
  if (blocks.length === 0 || trimmed.replace(BLOCK, '').trim() !== '')
    throw Invalid.field(path, `must contain only PEM blocks (-----BEGIN …----- … -----END …-----)`);
  return blocks;
}

function checkCertificates(text: string, path: string): void {
  for (const [i, b] of pemBlocks(text, path, 'certificate').entries()) {
    const where = `block ${i + 1}`;
    if (b.label !== 'CERTIFICATE') throw Invalid.field(path, `${where} is a ${b.label}, not a CERTIFICATE`);
    try {
      new X509Certificate(b.pem);
    } catch {
      throw Invalid.field(path, `${where} is not a valid certificate`);
    }
  }
}

function checkKey(key: string, passphrase: string | undefined): void {
  const blocks = pemBlocks(key, 'config.tls.key', 'private key');
  if (blocks.length !== 1 || !KEY_LABELS.includes(blocks[0]!.label))
    throw Invalid.field('config.tls.key', `must be one PEM private key (${KEY_LABELS.join(', ')})`);
  const pem = blocks[0]!.pem;
  const isEncrypted = blocks[0]!.label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type:\s*4,ENCRYPTED/.test(pem);
  if (isEncrypted && !passphrase)
    throw Invalid.field('config.tls.passphrase', 'is required: config.tls.key is encrypted');
  try {
    createPrivateKey({ key: pem, format: 'pem', ...(passphrase ? { passphrase } : {}) });
  } catch {
    if (isEncrypted) throw Invalid.field('config.tls.passphrase', 'does not decrypt config.tls.key');
    throw Invalid.field('config.tls.key', 'is not a valid private key');
  }
}

/** The value after an update: omitted keeps, null removes, text replaces. */
function merged(given: string | null | undefined, previous: string | undefined): string | undefined {
  if (given === undefined) return previous;
  return given === null || given.trim() === '' ? undefined : given;
}

/**
 * Merges TLS input into the stored material and checks the result: certificates
 * and key must be PEM, a client certificate comes with its key, an encrypted key
 * with the passphrase that opens it.
 */
export function mergeTls(
  input: TlsInput | null | undefined,
  previous: TlsSettings,
  extra: { passphrase?: string | undefined },
): TlsSettings {
  const given =
    input === null ? { ca: null, cert: null, key: null, passphrase: null, servername: null } : input;
  const ca = merged(given?.ca, previous.public.ca);
  const cert = merged(given?.cert, previous.public.cert);
  const key = merged(given?.key, previous.key);
  const servername = merged(given?.servername, previous.public.servername);
  if (extra.passphrase !== undefined && given?.passphrase != null)
    throw Invalid.field('config.tls.passphrase', 'is also given as sslpassword in the URL; give it once');
  let passphrase = extra.passphrase ?? merged(given?.passphrase, previous.passphrase);
  if (ca !== undefined) checkCertificates(ca, 'config.tls.ca');
  if (cert !== undefined) checkCertificates(cert, 'config.tls.cert');
  if (cert !== undefined && key === undefined)
    throw Invalid.field('config.tls.key', 'is required with config.tls.cert');
  if (key !== undefined && cert === undefined)
    throw Invalid.field('config.tls.cert', 'is required with config.tls.key');
  if (key !== undefined) checkKey(key, passphrase);
  else if (extra.passphrase !== undefined || typeof given?.passphrase === 'string')
    throw Invalid.field(
      'config.tls.passphrase',
      'applies to an encrypted config.tls.key, which is not given',
    );
  else passphrase = undefined;
  if (servername !== undefined && !HOST_NAME.test(servername))
    throw Invalid.field('config.tls.servername', 'must be a host name');
  return {
    public: {
      ...(ca !== undefined ? { ca } : {}),
      ...(cert !== undefined ? { cert } : {}),
      ...(servername !== undefined ? { servername } : {}),
    },
    key,
    passphrase,
  };
}

export function hasTlsMaterial(t: TlsSettings): boolean {
  return Object.keys(t.public).length > 0 || t.key !== undefined;
}
