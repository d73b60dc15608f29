import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerAddress, type SMTPServerAuthentication } from 'smtp-server';
import { scaled } from '../time.ts';

// A real SMTP server on localhost (smtp-server), so e-mail tests speak SMTP to
// something that parses what it receives. Every message is kept with its
// envelope, its raw bytes and its parsed form (mailparser).

export interface ReceivedMail {
  /** The envelope sender (MAIL FROM), which may differ from the From header. */
  from: string;
  /** The envelope recipients (RCPT TO), To and Cc alike. */
  to: string[];
  /** The message exactly as the server received it. */
  raw: Buffer;
  parsed: ParsedMail;
  subject: string | undefined;
  text: string | undefined;
  html: string | false | undefined;
  attachments: ParsedMail['attachments'];
  headers: ParsedMail['headers'];
}

export interface SmtpPeerOptions {
  /** When set, AUTH succeeds only with this password (535 otherwise); any user name is accepted. */
  password?: string;
}

export interface SmtpPeer {
  host: string;
  port: number;
  /** The SMTP_* variables that point Ferry's config at this server. */
  env: Record<string, string>;
  messages: ReceivedMail[];
  /** Messages whose DATA has begun and not yet ended (received, rejected or cut off). */
  readonly receiving: number;
  /** Resolves once `count` messages have arrived; rejects after the (scaled) `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  /** Rejects the next message at the end of DATA with this reply (e.g. 451 or 552). */
  failNext(code: number, message: string): void;
  close(): Promise<void>;
}

interface Rejection {
  code: number;
  message: string;
}

export async function startSmtp(options: SmtpPeerOptions = {}): Promise<SmtpPeer> {
  const messages: ReceivedMail[] = [];
  const waiters = new Set<() => void>();
  const rejections: Rejection[] = [];
  let receiving = 0;

  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    // There is no TLS in tests, so credentials travel over plain TCP on loopback.
    allowInsecureAuth: true,
    logger: false,
    // A pooled client may still hold a connection when a test ends; do not wait 30 s for it.
    closeTimeout: 500,
    onAuth(auth, _session, callback) {
      if (!isAcceptedAuth(auth, options.password)) {
        callback(withResponseCode(new Error('Authentication credentials invalid'), 535));
        return;
      }
      callback(null, { user: auth.username });
    },
    onData(stream, session, callback) {
      receiving++;
      readAll(stream)
        .then(async (raw) => {
          const rejection = rejections.shift();
          if (rejection) {
            callback(withResponseCode(new Error(rejection.message), rejection.code));
            return;
          }
          messages.push(await toReceivedMail(raw, session.envelope.mailFrom, session.envelope.rcptTo));
          for (const wake of waiters) wake();
          callback();
        })
        .catch((err: unknown) => callback(err instanceof Error ? err : new Error(String(err))))
        .finally(() => receiving--);
    },
  });

  const port = await listen(server);
  const host = '127.0.0.1';
  return {
    host,
    port,
    env: {
      SMTP_HOST: host,
      SMTP_PORT: String(port),
      SMTP_FROM: 'Ferry <ferry@example.test>',
      SMTP_SECURE: 'false',
    },
    messages,
    get receiving() {
      return receiving;
    },
    waitFor: (count, timeoutMs = 5_000) => waitForMessages(messages, waiters, count, scaled(timeoutMs)),
    failNext(code, message) {
      rejections.push({ code, message });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function isAcceptedAuth(auth: SMTPServerAuthentication, password: string | undefined): boolean {
  return password === undefined || auth.password === password;
}

/** smtp-server sends an error's `responseCode` as the SMTP reply code. */
function withResponseCode(err: Error, code: number): Error {
  return Object.assign(err, { responseCode: code });
}

function listen(server: SMTPServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const net = server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((net.address() as AddressInfo).port);
    });
  });
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function toReceivedMail(
  raw: Buffer,
  mailFrom: SMTPServerAddress | false,
  rcptTo: SMTPServerAddress[],
): Promise<ReceivedMail> {
  const parsed = await simpleParser(raw);
  return {
    from: mailFrom === false ? '' : mailFrom.address,
    to: rcptTo.map((r) => r.address),
    raw,
    parsed,
    subject: parsed.subject,
    text: parsed.text,
    html: parsed.html,
    attachments: parsed.attachments,
    headers: parsed.headers,
  };
}

function waitForMessages(
  messages: ReceivedMail[],
  waiters: Set<() => void>,
  count: number,
  timeoutMs: number,
): Promise<ReceivedMail[]> {
  if (messages.length >= count) return Promise.resolve(messages.slice(0, count));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(
        new Error(`SMTP peer: expected ${count} message(s) within ${timeoutMs} ms, got ${messages.length}`),
      );
    }, timeoutMs);
    function check(): void {
      if (messages.length < count) return;
      clearTimeout(timer);
      waiters.delete(check);
      resolve(messages.slice(0, count));
    }
    waiters.add(check);
  });
}
