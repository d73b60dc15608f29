import { type ConnectionOptions, checkServerIdentity } from 'node:tls';

// TLS for a source connection: a mode with libpq's names and meanings, and PEM
// material given as text (never a path on the Ferry host).

export const sslModes = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof sslModes)[number];

export interface SourceTls {
  mode: SslMode;
  /** PEM certificates of the authorities to trust; without it, the system's roots. */
  ca?: string | undefined;
  /** Client certificate and key (PEM), and the key's passphrase. */
  cert?: string | undefined;
  key?: string | undefined;
  passphrase?: string | undefined;
  /** The name the server certificate must carry (verify-full), when the host is an IP address. */
  servername?: string | undefined;
}

/**
 * Whether the server's certificate chain is checked. As libpq: verify-ca and
 * verify-full always; require (and prefer) only when a CA is given; otherwise
 * the connection is encrypted but the server is not authenticated.
 */
function verifiesChain(t: SourceTls): boolean {
  return t.mode === 'verify-ca' || t.mode === 'verify-full' || t.ca !== undefined;
}

function material(t: SourceTls) {
  return {
    ...(t.ca !== undefined ? { ca: t.ca } : {}),
    ...(t.cert !== undefined ? { cert: t.cert } : {}),
    ...(t.key !== undefined ? { key: t.key } : {}),
    ...(t.passphrase !== undefined ? { passphrase: t.passphrase } : {}),
  };
}

/**
 * node-postgres's `ssl`. node-postgres cannot fall back to plain text, so prefer
 * behaves as require. The host name is checked only with verify-full.
 */
export function postgresTls(t: SourceTls): ConnectionOptions | false {
  if (t.mode === 'disable') return false;
  const servername = t.servername;
  return {
    ...material(t),
    rejectUnauthorized: verifiesChain(t),
    checkServerIdentity:
      t.mode !== 'verify-full'
        ? () => undefined
        : servername
          ? (_host, cert) => checkServerIdentity(servername, cert)
          : checkServerIdentity,
  };
}

/** mysql2's `ssl` (it takes verifyIdentity instead of checkServerIdentity). */
export function mysqlTls(
  t: SourceTls,
): (ReturnType<typeof material> & { rejectUnauthorized: boolean; verifyIdentity: boolean }) | undefined {
  if (t.mode === 'disable') return undefined;
  return { ...material(t), rejectUnauthorized: verifiesChain(t), verifyIdentity: t.mode === 'verify-full' };
}
