import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Static, Type } from 'typebox';
import yazl from 'yazl';
import { AppError, describeError, type FieldError, Invalid } from '../lib/errors.ts';
import {
  type MailAttachment,
  type Mailer,
  type MailMessage,
  parseAddressList,
  type RecipientRejection,
  recipientRejections,
  type SendResult,
} from './email.ts';
import { EmailServerSettings } from './email-server.ts';
import {
  checkTemplate,
  defaultTemplates,
  formatBytes,
  linkNotice,
  type MessageSituation,
  renderHtml,
  renderSubject,
  renderText,
  templateValues,
  templateVariables,
} from './message-template.ts';
import {
  type DeliveryContext,
  DeliveryError,
  type DeliveryFile,
  type DeliveryReceipt,
  type SendOptions,
} from './types.ts';

// The report e-mail: the run's file attached (zipped if asked) when it fits the
// destination's limit, otherwise the run's signed link. One message goes to all
// recipients; the server answers each recipient on its own, so one bad mailbox
// does not cost the others their report: the delivery succeeds when anyone got
// it, and the receipt names who did not, with the server's words.

export const DEFAULT_MAX_ATTACHMENT_BYTES = 10_000_000;
// Above this a message is refused by most providers whatever they are told (base64 adds a third).
const MAX_ATTACHMENT_BYTES = 100_000_000;
const MAX_RECIPIENTS = 50;
const variables = templateVariables.map((v) => `{{${v}}}`).join(' ');

const AddressList = (description: string, minItems = 0) =>
  Type.Array(Type.String({ minLength: 3, maxLength: 320 }), {
    minItems,
    maxItems: MAX_RECIPIENTS,
    description,
  });

export const EmailSettingsSchema = Type.Object(
  {
    to: AddressList(`Recipients, 1 to ${MAX_RECIPIENTS} addresses`, 1),
    cc: Type.Optional(AddressList(`Copy recipients, up to ${MAX_RECIPIENTS}`)),
    bcc: Type.Optional(AddressList(`Blind-copy recipients, up to ${MAX_RECIPIENTS}: no header names them`)),
    subject: Type.Optional(
      Type.String({
        maxLength: 1000,
        description: `Subject template (default "${defaultTemplates.attached.subject}"). Variables: ${variables}. Line breaks and control characters are removed.`,
      }),
    ),
    text: Type.Optional(
      Type.String({
        maxLength: 20_000,
        description: `Plain-text body template; Ferry's summary when neither text nor html is set. Variables: ${variables}`,
      }),
    ),
    html: Type.Optional(
      Type.String({
        maxLength: 100_000,
        description: `HTML body template; every value is HTML-escaped. Variables: ${variables}`,
      }),
    ),
    attach: Type.Optional(
      Type.Union([Type.Literal('file'), Type.Literal('link')], {
        description:
          'file (default): attach the file when it fits maxAttachmentBytes, else send the download link; link: always send the link',
      }),
    ),
    maxAttachmentBytes: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_ATTACHMENT_BYTES,
        description: `Largest attachment in bytes, after zipping (default ${DEFAULT_MAX_ATTACHMENT_BYTES}); a larger file goes as a link`,
      }),
    ),
    zip: Type.Optional(
      Type.Boolean({
        description: 'Attach the file inside a zip archive (a file already zipped is attached as it is)',
      }),
    ),
    ...EmailServerSettings,
  },
  { additionalProperties: false },
);
export type EmailSettings = Static<typeof EmailSettingsSchema>;

/** Settings checked and normalised: addresses trimmed and deduplicated, defaults filled in. */
export interface CheckedEmailSettings {
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string | undefined;
  text: string | undefined;
  html: string | undefined;
  attach: 'file' | 'link';
  maxAttachmentBytes: number;
  zip: boolean;
}

export interface EmailSendOptions extends Partial<SendOptions> {
  /** The tenant's allowed recipient domains; empty or absent allows any. */
  allowedEmailDomains?: readonly string[] | undefined;
}

/**
 * The rules a schema cannot say, every problem listed with its field: valid
 * addresses, at most 50 per list, known template variables, and (when the
 * tenant has a list) recipients only in allowed domains. Throws Invalid.
 */
export function checkEmailSettings(
  settings: EmailSettings,
  allowedDomains: readonly string[] = [],
): CheckedEmailSettings {
  const errors: FieldError[] = [];
  const collect = <T>(fallback: T, check: () => T): T => {
    try {
      return check();
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      errors.push(...(err.errors ?? [{ path: '', message: err.message }]));
      return fallback;
    }
  };
  const lists = { to: settings.to, cc: settings.cc ?? [], bcc: settings.bcc ?? [] };
  const [to, cc, bcc] = (['to', 'cc', 'bcc'] as const).map((path) =>
    collect<string[]>([], () => checkAddressList(lists[path], path, allowedDomains)),
  ) as [string[], string[], string[]];
  if (settings.to.length === 0) errors.push({ path: 'to', message: 'needs at least one recipient' });
  for (const path of ['subject', 'text', 'html'] as const) {
    const template = settings[path];
    if (template !== undefined) collect(undefined, () => checkTemplate(template, path));
  }
  const maxAttachmentBytes = settings.maxAttachmentBytes ?? DEFAULT_MAX_ATTACHMENT_BYTES;
  if (
    !Number.isInteger(maxAttachmentBytes) ||
    maxAttachmentBytes < 1 ||
    maxAttachmentBytes > MAX_ATTACHMENT_BYTES
  )
    errors.push({
      path: 'maxAttachmentBytes',
      message: `must be a whole number from 1 to ${MAX_ATTACHMENT_BYTES}`,
    });
  if (errors.length > 0) throw new Invalid(errors.map((e) => `${e.path}: ${e.message}`).join('; '), errors);
  return {
    to,
    cc,
    bcc,
    subject: settings.subject,
    text: settings.text,
    html: settings.html,
    attach: settings.attach ?? 'file',
    maxAttachmentBytes,
    zip: settings.zip ?? false,
  };
}

function checkAddressList(
  list: readonly string[],
  path: string,
  allowedDomains: readonly string[],
): string[] {
  if (list.length > MAX_RECIPIENTS) throw Invalid.field(path, `takes at most ${MAX_RECIPIENTS} addresses`);
  const addresses = parseAddressList(list, path);
  const allowed = new Set(allowedDomains.map((d) => d.trim().replace(/^@/, '').toLowerCase()));
  if (allowed.size === 0) return addresses;
  // Exact domains: a subdomain may be another organisation's (mail.example.com hosted elsewhere).
  const errors = list.flatMap((entry, index) => {
    const domain = entry
      .trim()
      .slice(entry.trim().lastIndexOf('@') + 1)
      .toLowerCase();
    if (allowed.has(domain)) return [];
    const message = `${JSON.stringify(entry.trim())} is outside the workspace's allowed e-mail domains (${[...allowed].join(', ')})`;
    return [{ path: `${path}.${index}`, message }];
  });
  if (errors.length > 0) throw new Invalid(errors.map((e) => `${e.path}: ${e.message}`).join('; '), errors);
  return addresses;
}

/**
 * Sends a run to the destination's recipients: the file attached or its link,
 * or the failure notice of a failed run (`file` is then null). Resolves with who
 * accepted and who was rejected; rejects with a DeliveryError (or the signal's
 * reason when aborted).
 */
export async function sendReportEmail(
  settings: EmailSettings,
  file: DeliveryFile | null,
  ctx: DeliveryContext,
  mailer: Mailer,
  options: EmailSendOptions = {},
): Promise<DeliveryReceipt> {
  const checked = checkedForSending(settings, options);
  const plan = await explainFailure(() => planFile(checked, file, ctx, options.signal), options.signal);
  try {
    const message: MailMessage = {
      ...composeMessage(checked, plan.situation, file, ctx),
      to: checked.to,
      cc: checked.cc,
      bcc: checked.bcc,
      attachments: plan.attachment ? [plan.attachment] : [],
      headers: { ...automaticHeaders, 'X-Ferry-Run': ctx.runId, 'X-Ferry-Delivery': ctx.deliveryId },
    };
    const result = await explainFailure(() => mailer.send(message, options.signal), options.signal);
    return receiptOf(result, {
      sent:
        plan.situation === 'attached'
          ? 'attachment'
          : plan.situation === 'failed'
            ? 'failure notice'
            : 'link',
      attachment: plan.attachment
        ? { fileName: plan.attachment.filename, bytes: plan.bytes, zipped: plan.zipped }
        : null,
      file: file ? { fileName: file.fileName, size: file.size, checksum: file.checksum } : null,
      linkExpiresAt:
        plan.situation === 'link' || plan.situation === 'too_large'
          ? (ctx.link?.expiresAt.toISOString() ?? null)
          : null,
    });
  } finally {
    // A send that failed before reading the file must not leave it open.
    if (plan.attachment?.content instanceof Readable) plan.attachment.content.destroy();
    await plan.dispose();
  }
}

/** A short message to the `to` recipients, to prove the settings and the SMTP server work. */
export async function testReportEmail(
  settings: EmailSettings,
  mailer: Mailer,
  options: EmailSendOptions = {},
): Promise<DeliveryReceipt> {
  const checked = checkedForSending(settings, options);
  const message = {
    to: checked.to,
    subject: 'Ferry test message',
    text: 'This is a test message from Ferry. Reports of this e-mail destination will be sent from this address.',
    headers: { ...automaticHeaders },
  };
  const result = await explainFailure(() => mailer.send(message, options.signal), options.signal);
  return receiptOf(result, { sent: 'test message' });
}

// RFC 3834: no vacation or out-of-office replies to a machine; Exchange reads its own header.
const automaticHeaders = { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'OOF, AutoReply' };

function checkedForSending(settings: EmailSettings, options: EmailSendOptions): CheckedEmailSettings {
  options.signal?.throwIfAborted();
  try {
    return checkEmailSettings(settings, options.allowedEmailDomains);
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    throw new DeliveryError(`The e-mail destination's settings are invalid: ${err.message}`, {
      retryable: false,
      details: { errors: err.errors ?? [] },
      cause: err,
    });
  }
}

interface FilePlan {
  situation: MessageSituation;
  attachment: MailAttachment | null;
  /** The attachment's size as sent (after zipping). */
  bytes: number;
  zipped: boolean;
  dispose(): Promise<void>;
}

const nothingToDispose = async () => {};

/** Decides between attachment and link, zipping first when asked since the limit counts zipped bytes. */
async function planFile(
  settings: CheckedEmailSettings,
  file: DeliveryFile | null,
  ctx: DeliveryContext,
  signal: AbortSignal | undefined,
): Promise<FilePlan> {
  const asLink = (situation: 'link' | 'too_large', why: string): FilePlan => {
    if (!ctx.link)
      throw new DeliveryError(`${why} and the run has no download link to send instead`, {
        retryable: false,
      });
    return { situation, attachment: null, bytes: 0, zipped: false, dispose: nothingToDispose };
  };
  if (ctx.status === 'failed')
    return { situation: 'failed', attachment: null, bytes: 0, zipped: false, dispose: nothingToDispose };
  if (!file) throw new DeliveryError('The run succeeded but has no file to send', { retryable: false });
  if (settings.attach === 'link') return asLink('link', 'The destination sends links, not attachments,');
  const limit = settings.maxAttachmentBytes;
  const tooLarge = (size: string) =>
    asLink('too_large', `The file (${size}) is larger than the ${formatBytes(limit)} attachment limit`);
  if (settings.zip && !isZipFile(file)) {
    const zipped = await zipWithinLimit(file, limit, ctx.finishedAt, signal);
    if (!zipped) return tooLarge(`${formatBytes(file.size)}, over ${formatBytes(limit)} zipped`);
    const attachment = {
      filename: zipName(file.fileName),
      contentType: 'application/zip',
      content: createReadStream(zipped.path),
    };
    return { situation: 'attached', attachment, bytes: zipped.bytes, zipped: true, dispose: zipped.dispose };
  }
  if (file.size > limit) return tooLarge(formatBytes(file.size));
  const content = await file.open();
  const attachment = { filename: file.fileName, contentType: file.contentType, content };
  return { situation: 'attached', attachment, bytes: file.size, zipped: false, dispose: nothingToDispose };
}

function isZipFile(file: DeliveryFile): boolean {
  return file.contentType === 'application/zip' || /\.zip$/i.test(file.fileName);
}

/** "sales 2026-03.csv" → "sales 2026-03.zip", as a desktop's "compress" names it. */
function zipName(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  return `${dot > 0 ? fileName.slice(0, dot) : fileName}.zip`;
}

class OverLimit extends Error {}

/**
 * Zips the file into a temporary directory, streaming, and stops as soon as the
 * archive passes `limit` bytes: a file that will go as a link is not zipped in full.
 * Null when over the limit.
 */
async function zipWithinLimit(
  file: DeliveryFile,
  limit: number,
  mtime: Date,
  signal: AbortSignal | undefined,
): Promise<{ path: string; bytes: number; dispose(): Promise<void> } | null> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-mail-'));
  const dispose = () => rm(dir, { recursive: true, force: true });
  const path = join(dir, 'attachment.zip');
  let bytes = 0;
  const countBytes = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      callback(bytes > limit ? new OverLimit() : null, chunk);
    },
  });
  const source = await file.open().catch(async (err: unknown) => {
    await dispose();
    throw err;
  });
  const zip = new yazl.ZipFile();
  const entry = new PassThrough();
  zip.addReadStream(entry, file.fileName, { mtime });
  zip.end();
  const output = zip.outputStream as unknown as Readable;
  // yazl does not pass on its input's errors: a failed read must end the output too.
  const feeding = pipeline(source, entry).catch((err: unknown) => output.destroy(err as Error));
  try {
    await pipeline(output, countBytes, createWriteStream(path), ...(signal ? [{ signal }] : []));
    return { path, bytes, dispose };
  } catch (err) {
    await dispose();
    if (err instanceof OverLimit) return null;
    throw err;
  } finally {
    source.destroy();
    entry.destroy();
    await feeding;
  }
}

function composeMessage(
  settings: CheckedEmailSettings,
  situation: MessageSituation,
  file: DeliveryFile | null,
  ctx: DeliveryContext,
): Pick<MailMessage, 'subject' | 'text' | 'html'> {
  const defaults = defaultTemplates[situation];
  const values = templateValues(ctx, file);
  const subject = renderSubject(settings.subject ?? defaults.subject, values);
  if (settings.text === undefined && settings.html === undefined)
    return { subject, text: renderText(defaults.text, values), html: renderHtml(defaults.html, values) };
  // The author's own body: if the file is not attached and the body does not say where it is, Ferry adds the link.
  const notice = situation === 'link' || situation === 'too_large' ? linkNotice[situation] : null;
  const text = settings.text ?? defaults.text;
  const html = settings.html;
  return {
    subject,
    text: renderText(notice && !mentionsLink(text) ? `${text}${notice.text}` : text, values),
    html:
      html === undefined
        ? undefined
        : renderHtml(notice && !mentionsLink(html) ? beforeBodyEnd(html, notice.html) : html, values),
  };
}

function mentionsLink(template: string): boolean {
  return /\{\{\s*link\s*\}\}/.test(template);
}

function beforeBodyEnd(html: string, addition: string): string {
  const end = html.toLowerCase().lastIndexOf('</body>');
  return end < 0 ? `${html}${addition}` : `${html.slice(0, end)}${addition}${html.slice(end)}`;
}

/** Runs a step, turning what it throws into a DeliveryError, or the abort reason when the delivery was cancelled. */
async function explainFailure<T>(step: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (signal?.aborted) throw signal.reason ?? err;
    throw deliveryErrorOf(err);
  }
}

// Ferry's errors that say "later may work"; any other (Invalid, Permanent, NotFound, Gone …) is final.
const passingErrorCodes = new Set(['Retryable', 'Unavailable', 'RateLimited']);

/**
 * The mailer's (and storage's) typed errors as a delivery's. When every recipient
 * was refused, a 4xx for any of them (mailbox full, greylisting) makes it worth
 * another attempt. Anything untyped (a dropped stream) may well pass next time.
 */
function deliveryErrorOf(err: unknown): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const rejected = recipientRejections(err);
  if (rejected.length > 0) {
    const retryable = rejected.some((r) => r.code !== undefined && r.code < 500);
    return new DeliveryError(`Every recipient was rejected: ${describeRejections(rejected)}`, {
      retryable,
      details: { rejected: rejected.map(asRecorded) },
      cause: err,
    });
  }
  if (err instanceof AppError)
    return new DeliveryError(err.message, {
      retryable: passingErrorCodes.has(err.code),
      details: smtpReplyOf(err),
      cause: err,
    });
  return new DeliveryError(describeError(err), { retryable: true, cause: err });
}

function smtpReplyOf(err: AppError): Record<string, unknown> {
  const cause = err.cause as { responseCode?: unknown; response?: unknown } | undefined;
  if (typeof cause?.responseCode !== 'number') return {};
  return {
    responseCode: cause.responseCode,
    response: typeof cause.response === 'string' ? cause.response : null,
  };
}

/** As kept on the delivery (JSON): a missing reply code is null rather than absent. */
function asRecorded(r: RecipientRejection) {
  return { address: r.address, reply: r.reply, code: r.code ?? null };
}

function describeRejections(rejected: RecipientRejection[]): string {
  return rejected.map((r) => `${r.address} (${r.reply})`).join(', ');
}

function receiptOf(result: SendResult, extra: Record<string, unknown>): DeliveryReceipt {
  const known = new Map((result.rejections ?? []).map((r) => [r.address, r]));
  // Every rejected address has an entry, with the server's reply when nodemailer kept it.
  const rejected = result.rejected.map(
    (address) => known.get(address) ?? { address, reply: 'rejected', code: undefined },
  );
  const total = result.accepted.length + rejected.length;
  const outcome =
    rejected.length === 0
      ? `accepted for ${total} recipient(s)`
      : `accepted for ${result.accepted.length} of ${total} recipient(s); rejected: ${describeRejections(rejected)}`;
  return {
    summary: `${result.response ?? 'Sent'} — ${outcome}`,
    details: {
      messageId: result.messageId,
      response: result.response ?? null,
      accepted: result.accepted,
      rejected: rejected.map(asRecorded),
      ...extra,
    },
  };
}
