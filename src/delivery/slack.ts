import type { Readable } from 'node:stream';
import type * as SlackApi from '@slack/web-api';
import { type Static, Type } from 'typebox';
import { Invalid } from '../lib/errors.ts';
import { lazyModule } from '../lib/lazy-module.ts';
import {
  checkTemplate,
  formatBytes,
  renderText,
  type TemplateValues,
  templateValues,
} from './message-template.ts';
import { undici } from './ssrf-guard.ts';
import {
  type DeliveryContext,
  DeliveryError,
  type DeliveryFile,
  type DeliveryReceipt,
  type SendOptions,
} from './types.ts';

// Slack: the run's file uploaded into a channel with a summary, through the
// current external upload flow (files.getUploadURLExternal → POST the bytes to
// the upload URL → files.completeUploadExternal). The bytes stream from storage
// to Slack; filesUploadV2 would hold the whole file in memory. A file over the
// destination's limit is not uploaded: the summary goes out with the run's
// signed link instead (chat.postMessage). The client neither waits out a 429 nor
// retries: Ferry's delivery layer retries, honouring Retry-After.

export const DEFAULT_SLACK_MAX_UPLOAD_MB = 50;
/** Slack's own limit for one file. */
const SLACK_MAX_UPLOAD_MB = 1000;
const DEFAULT_API_URL = 'https://slack.com/api/';
const MAX_ERROR_LENGTH = 500;

export const SlackSettingsSchema = Type.Object(
  {
    channel: Type.String({
      minLength: 1,
      maxLength: 40,
      description:
        "The channel's id (C…, G… or D…, in Slack under the channel's details), not its name; the bot must be a member",
    }),
    message: Type.Optional(
      Type.String({
        maxLength: 3000,
        description:
          "The message posted with the file (a failed run posts Ferry's failure notice), with the variables of e-mail templates: {{report}} {{schedule}} {{run_time}} {{date}} {{rows}} {{size}} {{file}} {{format}} {{link}} {{link_expires}} {{status}} {{error}} {{tenant}}",
      }),
    ),
    maxUploadMb: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: SLACK_MAX_UPLOAD_MB,
        description: `Files larger than this are not uploaded: the message carries the download link instead (default ${DEFAULT_SLACK_MAX_UPLOAD_MB})`,
      }),
    ),
  },
  { additionalProperties: false },
);
export type SlackSettings = Static<typeof SlackSettingsSchema>;

/** Write-only fields, sealed at rest. */
export const slackSecretFields = [
  {
    name: 'botToken',
    required: true,
    description: 'Bot User OAuth Token (xoxb-…) with the files:write and chat:write scopes',
  },
] as const;
export interface SlackSecrets {
  botToken: string;
}

export interface SlackSendOptions extends SendOptions {
  /** Another Web API base URL (tests: a local peer). Default https://slack.com/api/. */
  slackApiUrl?: string | undefined;
}

const CHANNEL_ID = /^[CGD][A-Z0-9]{6,}$/;

function channelProblem(channel: string): string | null {
  if (CHANNEL_ID.test(channel)) return null;
  if (/^[UW][A-Z0-9]{6,}$/.test(channel))
    return 'is a user id; use a channel id (C…), or the id of the direct-message channel with that user (D…)';
  return "must be the channel's id (C…, G… or D…), not its name: in Slack, open the channel's details, where the id is shown at the bottom";
}

/** Rules the schema cannot say: a channel id rather than a name, known message variables. */
export function checkSlackSettings(settings: SlackSettings): void {
  const channel = channelProblem(settings.channel);
  if (channel) throw Invalid.field('channel', channel);
  if (settings.message !== undefined) checkTemplate(settings.message, 'message');
}

export function checkSlackSecrets(secrets: SlackSecrets): void {
  if (!/^xoxb-[A-Za-z0-9-]+$/.test(secrets.botToken))
    throw Invalid.field(
      'botToken',
      'must be a bot token (xoxb-…), from the app\'s "OAuth & Permissions" page',
    );
}

// Slack reads &, < and > as markup (<!channel>, <url|text>): values are escaped
// so a report name cannot mention @channel or fake a link. The template is the user's own.
const escapeMrkdwn = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The e-mail templates' values, escaped for Slack; the link as a Slack link named after the file. */
function slackValues(ctx: DeliveryContext, file: DeliveryFile | null): TemplateValues {
  const plain = templateValues(ctx, file);
  const values = Object.fromEntries(
    Object.entries(plain).map(([name, value]) => [name, escapeMrkdwn(value)]),
  ) as TemplateValues;
  values.error = escapeMrkdwn(plain.error.slice(0, MAX_ERROR_LENGTH));
  // Only | and > end Slack's <url|text>; signed URLs hold neither, but a URL is not text to trust.
  values.link = ctx.link
    ? `<${escapeMrkdwn(ctx.link.url).replace(/[|>]/g, encodeURIComponent)}|${escapeMrkdwn(file?.fileName ?? 'Download')}>`
    : '';
  return values;
}

function defaultMessage(ctx: DeliveryContext): string {
  const schedule = ctx.scheduleName ? ' ({{schedule}})' : '';
  return ctx.status === 'failed'
    ? `:warning: *{{report}}*${schedule} failed: {{error}}\nRun of {{run_time}}`
    : `*{{report}}*${schedule}: {{rows}} rows, {{file}} ({{size}})\nRun of {{run_time}}`;
}

/** renderText, with a template saved before its check (an unknown variable) failing the delivery for good. */
function fill(template: string, values: TemplateValues): string {
  try {
    return renderText(template, values);
  } catch (err) {
    throw new DeliveryError(`Slack message template: ${(err as Error).message}`, {
      retryable: false,
      cause: err,
    });
  }
}

/** The message for a run: the destination's template ({{variables}} as in e-mails), or Ferry's summary. */
export function renderSlackMessage(
  template: string | undefined,
  file: DeliveryFile | null,
  ctx: DeliveryContext,
): string {
  // A failed run has no file, rows or size for a success template to speak of.
  const chosen = ctx.status === 'failed' ? undefined : template;
  return fill(chosen ?? defaultMessage(ctx), slackValues(ctx, file));
}

/** The message for a file over the limit: the summary, and the link unless the template placed it. */
function renderLinkMessage(template: string | undefined, file: DeliveryFile, ctx: DeliveryContext): string {
  const values = slackValues(ctx, file);
  const text = fill(template ?? defaultMessage(ctx), values);
  if (text.includes(values.link)) return text;
  return `${text}\n${renderText('Too large for Slack ({{size}}): {{link}} (until {{link_expires}})', values)}`;
}

const slackApi = lazyModule<typeof SlackApi>('@slack/web-api');

const silentLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  setLevel() {},
  getLevel: () => 'error' as SlackApi.LogLevel,
  setName() {},
};

function createClient(token: string, options: SlackSendOptions): SlackApi.WebClient {
  const signal = options.signal;
  return new (slackApi().WebClient)(token, {
    slackApiUrl: options.slackApiUrl ?? DEFAULT_API_URL,
    timeout: options.outbound.timeoutMs,
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
    logger: silentLogger,
    // The caller's signal ends a call as well as the client's own timeout.
    fetch: (input, init) =>
      fetch(input, {
        ...init,
        signal: signal && init?.signal ? AbortSignal.any([signal, init.signal]) : (signal ?? init?.signal),
      }),
  });
}

const permanentReasons: Record<string, string> = {
  not_in_channel: 'the bot is not a member of the channel: invite it (/invite @your-app) and retry',
  channel_not_found:
    'channel not found: check the id; for a private channel, invite the bot first (it cannot see the channel until then)',
  is_archived: 'the channel is archived',
  invalid_auth: 'the bot token is not valid: copy it again from the app\'s "OAuth & Permissions" page',
  not_authed: 'no bot token was sent',
  account_inactive: "the bot's token belongs to a deactivated app or user: reinstall the app",
  token_revoked: 'the bot token was revoked: reinstall the app and save the new token',
  token_expired: 'the bot token expired: save a new one',
  no_permission: 'the app lacks the permission for this: check its scopes',
  missing_scope: 'the app lacks a scope',
  restricted_action: "the workspace's settings forbid this for the bot",
};
const retryableReasons = new Set([
  'ratelimited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
]);

/** Turns what @slack/web-api throws into a DeliveryError: retryable, or permanent with what to do. */
export function classifySlackError(err: unknown, channel: string): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const e = err as {
    code?: string;
    retryAfter?: number;
    data?: { error?: string; needed?: string };
    statusCode?: number;
  };
  if (e.code === 'slack_webapi_rate_limited_error') {
    const seconds = e.retryAfter ?? 1;
    return new DeliveryError(`Slack is rate limiting the bot: retry after ${seconds} s`, {
      retryable: true,
      retryAfterMs: seconds * 1000,
      details: { retryAfterSeconds: seconds },
      cause: err,
    });
  }
  if (e.code === 'slack_webapi_platform_error') {
    const reason = e.data?.error ?? 'unknown_error';
    const needed = e.data?.needed ? ` (needs ${e.data.needed})` : '';
    const advice = permanentReasons[reason];
    const retryable = advice === undefined && retryableReasons.has(reason);
    return new DeliveryError(`Slack ${channel}: ${reason}${advice ? `: ${advice}` : ''}${needed}`, {
      retryable,
      details: { error: reason, channel },
      cause: err,
    });
  }
  if (e.code === 'slack_webapi_http_error') {
    const status = e.statusCode ?? 0;
    return new DeliveryError(`Slack answered HTTP ${status}`, {
      retryable: status >= 500 || status === 408,
      details: { status },
      cause: err,
    });
  }
  // Request errors (connection refused or reset, timeouts) and anything unknown: the next attempt may pass.
  const cause = (err as { original?: Error }).original ?? err;
  return new DeliveryError(`Cannot reach Slack: ${(cause as Error).message ?? String(cause)}`, {
    retryable: true,
    cause: err,
  });
}

/** The upload URL must be Slack's (or the test peer's): the file's bytes go there. */
function checkUploadUrl(uploadUrl: string, options: SlackSendOptions): URL {
  const url = new URL(uploadUrl);
  const trusted = options.slackApiUrl
    ? url.origin === new URL(options.slackApiUrl).origin
    : url.protocol === 'https:' && (url.hostname === 'slack.com' || url.hostname.endsWith('.slack.com'));
  if (!trusted)
    throw new DeliveryError(`Slack gave an unexpected upload URL host ${url.host}`, { retryable: false });
  return url;
}

async function postBytes(url: URL, file: DeliveryFile, options: SlackSendOptions): Promise<void> {
  const body: Readable = await file.open();
  let status: number;
  let retryAfter: string | string[] | undefined;
  try {
    const response = await undici().request(url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(file.size) },
      headersTimeout: options.outbound.timeoutMs,
      bodyTimeout: options.outbound.timeoutMs,
      signal: options.signal,
    });
    status = response.statusCode;
    retryAfter = response.headers['retry-after'];
    await response.body.dump();
  } catch (err) {
    body.destroy();
    if (options.signal?.aborted) throw options.signal.reason ?? err;
    throw new DeliveryError(`Cannot upload the file to Slack: ${(err as Error).message}`, {
      retryable: true,
      cause: err,
    });
  }
  // Slack documents only 200 as success for the upload URL.
  if (status === 200) return;
  const seconds = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
  throw new DeliveryError(`Slack refused the file upload: HTTP ${status}`, {
    retryable: status >= 500 || status === 429 || status === 408,
    retryAfterMs: status === 429 && Number.isFinite(seconds) ? seconds * 1000 : undefined,
    details: { status },
  });
}

async function uploadFile(
  client: SlackApi.WebClient,
  settings: SlackSettings,
  file: DeliveryFile,
  comment: string,
  options: SlackSendOptions,
): Promise<DeliveryReceipt> {
  const ticket = await client.files.getUploadURLExternal({ filename: file.fileName, length: file.size });
  if (!ticket.upload_url || !ticket.file_id)
    throw new DeliveryError('Slack gave no upload URL', { retryable: true });
  await postBytes(checkUploadUrl(ticket.upload_url, options), file, options);
  const done = await client.files.completeUploadExternal({
    files: [{ id: ticket.file_id, title: file.fileName }],
    channel_id: settings.channel,
    initial_comment: comment,
  });
  const uploaded = done.files?.[0];
  return {
    summary: `Slack ${settings.channel}: file ${ticket.file_id} uploaded`,
    details: { channel: settings.channel, fileId: ticket.file_id, permalink: uploaded?.permalink ?? null },
  };
}

async function postMessage(
  client: SlackApi.WebClient,
  settings: SlackSettings,
  text: string,
  why: string,
): Promise<DeliveryReceipt> {
  const answer = await client.chat.postMessage({ channel: settings.channel, text });
  return {
    summary: `Slack ${settings.channel}: message ${answer.ts ?? ''} posted${why ? ` (${why})` : ''}`,
    details: { channel: settings.channel, ts: answer.ts ?? null },
  };
}

/**
 * Delivers a run to a Slack channel: the file with its summary, the summary and
 * the signed link when the file is over the limit, or the failure notice of a
 * failed run (`file` may then be null).
 */
export async function sendSlack(
  settings: SlackSettings,
  secrets: SlackSecrets,
  file: DeliveryFile | null,
  ctx: DeliveryContext,
  options: SlackSendOptions,
): Promise<DeliveryReceipt> {
  const problem = channelProblem(settings.channel);
  if (problem)
    throw new DeliveryError(`Slack channel "${settings.channel}" ${problem}`, { retryable: false });
  const client = createClient(secrets.botToken, options);
  const limitMb = settings.maxUploadMb ?? DEFAULT_SLACK_MAX_UPLOAD_MB;
  try {
    if (ctx.status === 'failed' || !file)
      return await postMessage(client, settings, renderSlackMessage(settings.message, file, ctx), '');
    // Decimal megabytes, as Ferry's other size limits (e-mail attachments) are given.
    if (file.size <= limitMb * 1_000_000)
      // The message is made first: a template that cannot render must not leave an uploaded file behind.
      return await uploadFile(
        client,
        settings,
        file,
        renderSlackMessage(settings.message, file, ctx),
        options,
      );
    if (!ctx.link)
      throw new DeliveryError(
        `The file (${formatBytes(file.size)}) is over this destination's ${limitMb} MB upload limit and the run has no download link to post instead`,
        { retryable: false },
      );
    const text = renderLinkMessage(settings.message, file, ctx);
    return await postMessage(client, settings, text, `file over ${limitMb} MB: link posted`);
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason ?? err;
    throw classifySlackError(err, settings.channel);
  }
}

/** Checks the token (auth.test) and posts a test message to the channel. */
export async function testSlack(
  settings: SlackSettings,
  secrets: SlackSecrets,
  options: SlackSendOptions,
): Promise<DeliveryReceipt> {
  const problem = channelProblem(settings.channel);
  if (problem)
    throw new DeliveryError(`Slack channel "${settings.channel}" ${problem}`, { retryable: false });
  const client = createClient(secrets.botToken, options);
  try {
    const auth = await client.auth.test();
    const posted = await postMessage(
      client,
      settings,
      'Ferry test message: reports of this destination will be posted in this channel.',
      '',
    );
    return {
      summary: `Connected to ${auth.team ?? 'Slack'} as ${auth.user ?? 'the bot'}; ${posted.summary}`,
      details: { ...posted.details, team: auth.team ?? null, user: auth.user ?? null },
    };
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason ?? err;
    throw classifySlackError(err, settings.channel);
  }
}
