import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import type nodemailer from 'nodemailer';
import type { SmtpConfig } from '../config.ts';
import { AppError, Invalid } from '../lib/errors.ts';
import { lazyModule } from '../lib/lazy-module.ts';
import type { Logger } from '../lib/log.ts';
import { parseAddressList } from './email-address.ts';

export { isValidEmailAddress, parseAddressList } from './email-address.ts';

// Sends report e-mails over SMTP (nodemailer, pooled). Attachments given as
// streams go out as they are read, so a large export never sits in memory.
// Failures become Ferry's typed errors: a reply the server might not give next
// time (4xx, a dropped connection) is Retryable; one it will give again (5xx,
// bad credentials, wrong TLS settings) is Permanent.

export interface MailAttachment {
  filename: string;
  content: Readable | Buffer;
  contentType: string;
}

export interface MailMessage {
  to: string[];
  cc?: string[] | undefined;
  /** Envelope-only recipients: they get the message, no header names them. */
  bcc?: string[] | undefined;
  subject: string;
  text: string;
  html?: string | undefined;
  attachments?: MailAttachment[] | undefined;
  headers?: Record<string, string> | undefined;
}

export interface SendResult {
  messageId: string;
  accepted: string[];
  rejected: string[];
  /** The server's reply to the message, e.g. "250 OK: queued as 4Z…". */
  response?: string | undefined;
  /** What the server answered each rejected recipient at RCPT TO. */
  rejections?: RecipientRejection[] | undefined;
}

export interface RecipientRejection {
  address: string;
  /** The server's reply on one line, e.g. "550 5.1.1 No such user". */
  reply: string;
  /** The SMTP reply code: 4xx the server may take it later, 5xx never. */
  code: number | undefined;
}

export interface MailerOptions {
  /**
   * Whose settings the mailer uses, for the hints in its errors: the instance's
   * (SMTP_* variables, the default) or a tenant's own SMTP settings.
   */
  settings?: 'instance' | 'tenant' | undefined;
  /**
   * The address to connect to instead of resolving `smtp.host`: one the caller
   * has checked (a tenant's host must not lead into Ferry's own network), so DNS
   * cannot answer differently at connect time. `smtp.host` stays the name TLS
   * verifies and errors show.
   */
  connectTo?: string | undefined;
}

export interface Mailer {
  send(message: MailMessage, signal?: AbortSignal): Promise<SendResult>;
  /** Connects and authenticates without sending, to check the settings. */
  verify(): Promise<void>;
  close(): void;
}

// nodemailer waits 2 minutes to connect and 10 minutes on a silent socket by
// default; a run holding a worker slot should learn sooner that the server is
// gone. The socket timeout counts silence, so an attachment source that stalls
// this long fails the send too (Retryable), which is what a stuck export deserves.
const TIMEOUT_MS = 30_000;
const MAX_REPLY_LENGTH = 300;

const smtpDriver = lazyModule<typeof nodemailer>('nodemailer');

export function createMailer(
  smtp: SmtpConfig | undefined,
  log?: Logger,
  options: MailerOptions = {},
): Mailer {
  if (!smtp) return createUnconfiguredMailer();
  const hints = options.settings === 'tenant' ? tenantHints : instanceHints;
  const transport = smtpDriver().createTransport(
    {
      pool: true,
      maxConnections: 3,
      host: options.connectTo ?? smtp.host,
      // TLS checks the certificate against the name, not the address connected to.
      ...(options.connectTo && !isIP(smtp.host) ? { servername: smtp.host } : {}),
      port: smtp.port,
      secure: smtp.secure,
      // A tenant's server asked for STARTTLS must offer it: no silent fall back to plain text.
      ...((smtp as { requireTls?: boolean }).requireTls ? { requireTLS: true } : {}),
      ...(smtp.user && smtp.password ? { auth: { user: smtp.user, pass: smtp.password } } : {}),
      connectionTimeout: TIMEOUT_MS,
      greetingTimeout: TIMEOUT_MS,
      socketTimeout: TIMEOUT_MS,
      dnsTimeout: TIMEOUT_MS,
    },
    { from: smtp.from },
  );
  return {
    async send(message, signal) {
      const mail = prepareMessage(message);
      try {
        const info = await transport.sendMail({ ...mail, ...(signal ? { signal } : {}) });
        const result: SendResult = {
          messageId: info.messageId,
          accepted: info.accepted.map(addressOf),
          rejected: info.rejected.map(addressOf),
          response: info.response,
          rejections: recipientRejections(info),
        };
        log?.info(
          { messageId: result.messageId, accepted: result.accepted.length, rejected: result.rejected.length },
          'e-mail sent',
        );
        return result;
      } catch (err) {
        if (signal?.aborted) throw signal.reason ?? err;
        const failure = classifySmtpError(err, smtp, hints);
        log?.warn({ code: failure.code, reason: failure.message }, 'e-mail failed');
        throw failure;
      }
    },
    async verify() {
      try {
        await transport.verify();
      } catch (err) {
        throw classifySmtpError(err, smtp, hints);
      }
    },
    close() {
      transport.close();
    },
  };
}

/** Recipients come back as they were given: strings here, since prepareMessage passes strings. */
function addressOf(recipient: string | { address: string }): string {
  return typeof recipient === 'string' ? recipient : recipient.address;
}

function createUnconfiguredMailer(): Mailer {
  const notConfigured = () =>
    new AppError('Permanent', 'E-mail is not configured: set SMTP_HOST and SMTP_FROM');
  return {
    send: () => Promise.reject(notConfigured()),
    verify: () => Promise.reject(notConfigured()),
    close() {},
  };
}

/** Validates everything that ends up in a header, so no input can add a header of its own. */
function prepareMessage(message: MailMessage) {
  for (const [path, list] of [
    ['to', message.to],
    ['cc', message.cc ?? []],
    ['bcc', message.bcc ?? []],
  ] as const) {
    for (const [index, address] of list.entries()) rejectLineBreaks(`${path}.${index}`, address);
  }
  const to = parseAddressList(message.to, 'to');
  if (to.length === 0) throw Invalid.field('to', 'needs at least one recipient');
  const cc = parseAddressList(message.cc ?? [], 'cc');
  const bcc = parseAddressList(message.bcc ?? [], 'bcc');
  rejectLineBreaks('subject', message.subject);
  const headers = message.headers ?? {};
  for (const [name, value] of Object.entries(headers)) {
    if (!/^[!-9;-~]+$/.test(name)) throw Invalid.field(`headers.${name}`, 'is not a valid header name');
    rejectLineBreaks(`headers.${name}`, value);
  }
  const attachments = (message.attachments ?? []).map((a, index) => {
    rejectLineBreaks(`attachments.${index}.filename`, a.filename);
    rejectLineBreaks(`attachments.${index}.contentType`, a.contentType);
    return { filename: a.filename, content: a.content, contentType: a.contentType };
  });
  return {
    to,
    ...(cc.length > 0 ? { cc } : {}),
    ...(bcc.length > 0 ? { bcc } : {}),
    subject: message.subject,
    text: message.text,
    ...(message.html !== undefined ? { html: message.html } : {}),
    attachments,
    headers,
  };
}

function rejectLineBreaks(path: string, value: string): void {
  if (/[\r\n]/.test(value)) throw Invalid.field(path, 'must not contain line breaks');
}

interface SmtpFailure {
  message?: string;
  code?: string;
  originalCode?: string;
  responseCode?: number;
  response?: string;
  /** The SMTP command the server answered (nodemailer sets it). */
  command?: string;
}

// Codes nodemailer gives errors that happen before the server replies with
// anything: the connection failed, dropped or went silent.
const networkCodes = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'EPROXY']);
// Settings the operator has to change; retrying with them cannot succeed.
type ConfigurationHints = Record<'EAUTH' | 'ENOAUTH' | 'ETLS', string>;
const instanceHints: ConfigurationHints = {
  EAUTH: 'check SMTP_USER and SMTP_PASSWORD',
  ENOAUTH: 'the server requires SMTP_USER and SMTP_PASSWORD',
  ETLS: 'check SMTP_SECURE and SMTP_PORT (465 uses TLS from the start, 587 upgrades with STARTTLS)',
};
// A tenant's own SMTP settings are edited in Ferry, not in the environment.
const tenantHints: ConfigurationHints = {
  EAUTH: "check the destination's SMTP user and password",
  ENOAUTH: "the server requires a user and password in the destination's SMTP settings",
  ETLS: "check the destination's SMTP encryption and port (465 uses TLS from the start, 587 upgrades with STARTTLS)",
};

/** Turns a nodemailer failure into Retryable or Permanent with a reason a user can act on. */
export function classifySmtpError(
  err: unknown,
  smtp: SmtpConfig,
  configurationHints: ConfigurationHints = instanceHints,
): AppError {
  const failure: SmtpFailure = typeof err === 'object' && err !== null ? err : { message: String(err) };
  const server = `${smtp.host}:${smtp.port}`;
  const reply = describeReply(failure);
  let kind: 'Retryable' | 'Permanent';
  let message: string;
  if (failure.command === 'STARTTLS' || (failure.code === 'ETLS' && failure.responseCode !== undefined)) {
    // Asked to upgrade to TLS, the server would not: nothing was sent in plain text.
    kind = 'Permanent';
    message = `SMTP server ${server} does not offer STARTTLS, which this connection requires${reply ? ` (${reply})` : ''}; nothing was sent unencrypted (${configurationHints['ETLS']})`;
  } else if (failure.code === 'EAUTH' || failure.responseCode === 535 || failure.responseCode === 534) {
    kind = 'Permanent';
    message = `SMTP server ${server} refused the login${reply ? `: ${reply}` : ''} (${configurationHints['EAUTH']})`;
  } else if (failure.responseCode !== undefined && failure.responseCode >= 400) {
    // 503 (bad sequence of commands) blames the session, not the message: a new connection may pass.
    const isPermanent = failure.responseCode >= 500 && failure.responseCode !== 503;
    kind = isPermanent ? 'Permanent' : 'Retryable';
    message = `SMTP server ${server} rejected the message: ${reply}`;
  } else if (failure.code !== undefined && Object.hasOwn(configurationHints, failure.code)) {
    kind = 'Permanent';
    const hint = configurationHints[failure.code as keyof ConfigurationHints];
    message = `SMTP server ${server}: ${failure.message ?? failure.code} (${hint})`;
  } else {
    // Network failures and anything unrecognised: the next attempt may well succeed.
    kind = 'Retryable';
    message = `Cannot deliver through SMTP server ${server}: ${describeNetworkFailure(failure)}`;
  }
  return new AppError(kind, redactPassword(message, smtp.password), { cause: err });
}

/**
 * The per-recipient replies nodemailer keeps on a sent message's info, or on the
 * error when every recipient was rejected (also when wrapped as an AppError's cause).
 */
export function recipientRejections(source: unknown): RecipientRejection[] {
  const holder = source instanceof AppError ? source.cause : source;
  if (typeof holder !== 'object' || holder === null || !('rejectedErrors' in holder)) return [];
  const errors = holder.rejectedErrors;
  if (!Array.isArray(errors)) return [];
  return errors.map((e: SmtpFailure & { recipient?: unknown }) => ({
    address: String(e.recipient ?? ''),
    reply: describeReply(e).replace(/^SMTP /, ''),
    code: e.responseCode,
  }));
}

/** "SMTP 550 Mailbox unavailable": the server's own words, on one line and not too long. */
function describeReply(failure: SmtpFailure): string {
  if (!failure.response) return failure.responseCode ? `SMTP ${failure.responseCode}` : '';
  const line = failure.response.replace(/\s+/g, ' ').trim();
  return `SMTP ${line.length > MAX_REPLY_LENGTH ? `${line.slice(0, MAX_REPLY_LENGTH)}…` : line}`;
}

function describeNetworkFailure(failure: SmtpFailure): string {
  const system = failure.originalCode ?? failure.code;
  if (system === 'ECONNREFUSED') return 'connection refused';
  if (system === 'ECONNRESET') return 'connection reset by the server';
  if (system === 'ETIMEDOUT' || /timeout/i.test(failure.message ?? '')) return 'timed out';
  if (failure.code !== undefined && networkCodes.has(failure.code)) return failure.message ?? failure.code;
  return failure.message ?? 'unknown error';
}

// Servers do not echo passwords, but a reply or a library message is not ours
// to trust: the password must never reach a run's recorded reason.
function redactPassword(message: string, password: string | undefined): string {
  return password ? message.replaceAll(password, '[redacted]') : message;
}
