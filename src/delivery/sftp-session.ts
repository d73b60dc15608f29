import { createHash } from 'node:crypto';
import type * as Ssh2 from 'ssh2';
import { lazyModule } from '../lib/lazy-module.ts';
import { resolveCheckedHost } from './host-check.ts';
import { DeliveryError, type SendOptions } from './types.ts';

// One SSH connection with its SFTP channel, for the SFTP destination: the
// server's host key checked against the pinned fingerprint before anything is
// sent, ssh2's failures turned into retryable or permanent DeliveryErrors, and
// every SFTP request bounded in time (a server that stops answering would
// otherwise hold a delivery forever).

const ssh2 = lazyModule<typeof Ssh2>('ssh2');

/** Where to connect and whom to trust: the fields of the SFTP destination's settings that matter here. */
export interface SftpServer {
  host: string;
  port?: number | undefined;
  username: string;
  hostKeyFingerprint: string;
}

export interface SftpCredentials {
  password?: string | undefined;
  privateKey?: string | undefined;
  passphrase?: string | undefined;
}

export interface HostKey {
  /** `SHA256:<base64 without padding>`, as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  /** e.g. ssh-ed25519, ecdsa-sha2-nistp256, rsa-sha2-512. */
  keyType: string;
}

const normalizeFingerprint = (f: string) => f.trim().replace(/=+$/, '');

function hostKeyOf(key: Buffer): HostKey {
  // The key blob starts with its type as an SSH string (uint32 length + bytes).
  const length = key.length >= 4 ? key.readUInt32BE(0) : 0;
  const keyType = length > 0 && length < 64 ? key.subarray(4, 4 + length).toString('latin1') : 'unknown';
  return {
    fingerprint: `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`,
    keyType,
  };
}

/** Why a private key cannot be used (unreadable, encrypted without the right passphrase), or null. */
export function privateKeyProblem(privateKey: string, passphrase: string | undefined): string | null {
  const parsed = ssh2().utils.parseKey(privateKey, passphrase);
  return parsed instanceof Error ? parsed.message : null;
}

export function where(settings: SftpServer): string {
  return `${settings.host}:${settings.port ?? 22}`;
}

export function permanent(message: string, cause?: unknown): DeliveryError {
  return new DeliveryError(message, { retryable: false, cause });
}

/** What ssh2 reports while connecting, logging in or opening SFTP, as a DeliveryError. */
function classifyConnectError(
  err: Error & { level?: string; code?: string },
  settings: SftpServer,
  offered: HostKey | undefined,
): DeliveryError {
  const server = `SFTP server ${where(settings)}`;
  const pinned = normalizeFingerprint(settings.hostKeyFingerprint);
  if (offered && offered.fingerprint !== pinned)
    return new DeliveryError(
      `${server} offered the host key ${offered.keyType} ${offered.fingerprint}, which does not match the pinned ${pinned}. If the server's key was changed on purpose, pin the new fingerprint`,
      { retryable: false, details: { offered: offered.fingerprint, keyType: offered.keyType, pinned } },
    );
  if (err.level === 'client-authentication')
    return permanent(
      `${server} refused the login of user "${settings.username}": check the password or private key`,
      err,
    );
  if (err.level === 'client-timeout')
    return new DeliveryError(`${server} did not complete the connection and login in time`, {
      retryable: true,
      cause: err,
    });
  // No common key exchange, cipher or host key algorithm: settings on the server, not chance.
  if (err.level === 'handshake') return permanent(`${server}: ${err.message}`, err);
  const reason =
    err.code === 'ECONNREFUSED'
      ? 'connection refused'
      : err.code === 'ECONNRESET'
        ? 'connection reset'
        : err.message;
  return new DeliveryError(`Cannot connect to ${server}: ${reason}`, {
    retryable: true,
    details: { code: err.code },
    cause: err,
  });
}

const STATUS = {
  noSuchFile: 2,
  permissionDenied: 3,
  failure: 4,
  noConnection: 6,
  connectionLost: 7,
} as const;

/** An SFTP status answer as a DeliveryError: missing paths and permissions will not change by themselves. */
function classifySftpError(err: Error & { code?: number | string }, what: string): DeliveryError {
  if (err instanceof DeliveryError) return err;
  if (err.code === STATUS.permissionDenied) return permanent(`${what}: permission denied`, err);
  if (err.code === STATUS.noSuchFile) return permanent(`${what}: no such file or folder`, err);
  // FAILURE covers a full disk or quota as much as anything: worth another attempt later.
  return new DeliveryError(`${what}: ${err.message}`, {
    retryable: true,
    details: { status: err.code },
    cause: err,
  });
}

/** One connection with its SFTP channel; every request is bounded by the policy's timeout. */
export class SftpSession {
  readonly client: Ssh2.Client;
  readonly sftp: Ssh2.SFTPWrapper;
  private readonly timeoutMs: number;
  private isClosed = false;

  constructor(client: Ssh2.Client, sftp: Ssh2.SFTPWrapper, timeoutMs: number) {
    this.client = client;
    this.sftp = sftp;
    this.timeoutMs = timeoutMs;
    client.once('close', () => {
      this.isClosed = true;
    });
  }

  call<T = void>(what: string, start: (done: (err?: Error | null, value?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // ssh2 queues requests on a closed channel without ever answering them.
      if (this.isClosed)
        return reject(new DeliveryError(`${what}: the SFTP connection is closed`, { retryable: true }));
      const timer = setTimeout(() => {
        // A server that stops answering would hold the delivery forever: drop the connection.
        this.client.destroy();
        reject(new DeliveryError(`${what}: the SFTP server did not answer in time`, { retryable: true }));
      }, this.timeoutMs);
      try {
        start((err, value) => {
          clearTimeout(timer);
          if (err) reject(classifySftpError(err, what));
          else resolve(value as T);
        });
      } catch (err) {
        clearTimeout(timer);
        reject(classifySftpError(err as Error, what));
      }
    });
  }

  close(): void {
    this.client.end();
  }
}

export function isMissing(err: unknown): boolean {
  return (
    (err as DeliveryError).cause !== undefined &&
    ((err as DeliveryError).cause as { code?: number }).code === STATUS.noSuchFile
  );
}

export async function openSession(
  settings: SftpServer,
  secrets: SftpCredentials,
  options: SendOptions,
): Promise<SftpSession> {
  const [address] = await resolveCheckedHost(settings.host, options.outbound);
  const client = new (ssh2().Client)();
  const pinned = normalizeFingerprint(settings.hostKeyFingerprint);
  let offered: HostKey | undefined;
  const onAbort = () => client.destroy();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  client.once('close', () => options.signal?.removeEventListener('abort', onAbort));
  return new Promise<SftpSession>((resolve, reject) => {
    // The listener stays for the connection's life: a later error (a dropped
    // keepalive) must not become an uncaught 'error' event.
    client.on('error', (err) => reject(classifyConnectError(err, settings, offered)));
    client.once('close', () =>
      reject(new DeliveryError(`SFTP server ${where(settings)} closed the connection`, { retryable: true })),
    );
    client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, finish) =>
      finish(prompts.map(() => secrets.password ?? '')),
    );
    client.once('ready', () => {
      // SFTP is request and answer: without this, Nagle's algorithm and delayed
      // ACKs hold each small request ~40 ms (measured on loopback against a
      // server that does the same: 87 ms per request before, 2 ms after).
      client.setNoDelay(true);
      client.sftp((err, sftp) => {
        if (err)
          return reject(permanent(`SFTP server ${where(settings)} does not offer SFTP: ${err.message}`, err));
        resolve(new SftpSession(client, sftp, options.outbound.timeoutMs));
      });
    });
    try {
      client.connect({
        // The checked address, not the name: DNS cannot answer differently now.
        host: address!.address,
        port: settings.port ?? 22,
        username: settings.username,
        ...(secrets.password ? { password: secrets.password } : {}),
        ...(secrets.privateKey ? { privateKey: secrets.privateKey, passphrase: secrets.passphrase } : {}),
        // Servers that take passwords only through keyboard-interactive (PAM) ask for it there.
        tryKeyboard: secrets.password !== undefined,
        readyTimeout: options.outbound.timeoutMs,
        keepaliveInterval: 15_000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          offered = hostKeyOf(key);
          return offered.fingerprint === pinned;
        },
      });
    } catch (err) {
      // ssh2 checks the private key before connecting.
      reject(permanent(`SFTP private key: ${(err as Error).message}`, err));
    }
  }).catch((err) => {
    client.destroy();
    if (options.signal?.aborted) throw options.signal.reason ?? err;
    throw err;
  });
}

/**
 * The host key a server offers, for the user to compare and pin: connects,
 * reads the key during the handshake and disconnects without logging in.
 */
export async function fetchHostFingerprint(
  host: string,
  port: number,
  options: SendOptions,
): Promise<HostKey> {
  const [address] = await resolveCheckedHost(host, options.outbound);
  const client = new (ssh2().Client)();
  const server: SftpServer = { host, port, username: '', hostKeyFingerprint: '' };
  const onAbort = () => client.destroy();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  return new Promise<HostKey>((resolve, reject) => {
    let offered: HostKey | undefined;
    client.on('error', (err) =>
      offered ? resolve(offered) : reject(classifyConnectError(err, server, undefined)),
    );
    client.once('close', () =>
      offered
        ? resolve(offered)
        : reject(new DeliveryError(`${host}:${port} closed the connection`, { retryable: true })),
    );
    client.connect({
      host: address!.address,
      port,
      username: 'ferry-host-key-check',
      readyTimeout: options.outbound.timeoutMs,
      hostVerifier: (key: Buffer) => {
        offered = hostKeyOf(key);
        // Refusing ends the handshake here: no login is attempted.
        return false;
      },
    });
  }).finally(() => {
    options.signal?.removeEventListener('abort', onAbort);
    client.destroy();
  });
}
