import { type Static, Type } from 'typebox';
import { Invalid } from '../lib/errors.ts';
import {
  checkUrl,
  type GuardOptions,
  httpFailure,
  isHostAllowListed,
  readExcerpt,
  safeFetch,
} from './ssrf-guard.ts';
import {
  type DeliveryContext,
  DeliveryError,
  type DeliveryFile,
  type DeliveryReceipt,
  type OutboundPolicy,
} from './types.ts';

// Microsoft Teams through a Workflows (Power Automate) URL from the flow "When a
// Teams webhook request is received": a message with an Adaptive Card summing up
// the run and an "Open file" button. The flow answers 202 and runs later, so a
// card Teams cannot show is not reported back here; the card is kept plain.
// The URL's `sig` query parameter is a credential: the whole URL is a secret,
// and messages name its host only.

// Teams refuses larger messages (HTTP 413); keep well below it.
export const MAX_CARD_BYTES = 28_000;
const MAX_ERROR_CHARS = 3_000;

export const TeamsSettings = Type.Object(
  {},
  { additionalProperties: false, description: 'Nothing public: the URL is a secret' },
);
export type TeamsSettings = Static<typeof TeamsSettings>;

export const TeamsSecrets = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: 2048,
      description:
        'The Workflows URL (https://…logic.azure.com/… or …environment.api.powerplatform.com/…); write-only, its sig parameter is a credential',
    }),
  },
  { additionalProperties: false },
);
export type TeamsSecrets = Static<typeof TeamsSecrets>;

const workflowHost = /(^|\.)(logic\.azure\.com|environment\.api\.powerplatform\.com)$/;
const connectorHost = /(^|\.)webhook\.office\.com$/;
const legacyConnectorHost = /^outlook\.office(365)?\.com$/;

/**
 * The URL if it is a Teams Workflows URL, else a DeliveryError (permanent)
 * saying why: retired connector URLs get their own message. Hosts the operator
 * allow-listed pass too (a local receiver in tests, a relay on-premises).
 */
export function checkTeamsUrl(input: string, policy: OutboundPolicy): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new DeliveryError('The Teams URL is not a valid URL', { retryable: false });
  }
  const host = url.hostname.toLowerCase();
  if (connectorHost.test(host) || (legacyConnectorHost.test(host) && url.pathname.startsWith('/webhook'))) {
    throw new DeliveryError(
      `${host} is an Office 365 connector URL, which Microsoft has retired: in Teams, create a workflow from "When a Teams webhook request is received" and use its URL`,
      { retryable: false },
    );
  }
  if (workflowHost.test(host)) {
    if (url.protocol !== 'https:')
      throw new DeliveryError('The Teams workflow URL must use https', { retryable: false });
    return url;
  }
  if (isHostAllowListed(host, policy)) return url;
  throw new DeliveryError(
    `${host} is not a Teams workflow URL: expected a host under logic.azure.com or environment.api.powerplatform.com`,
    { retryable: false },
  );
}

/** The checks a schema cannot make, for saving a destination. */
export async function checkTeamsSecrets(secrets: TeamsSecrets, policy: OutboundPolicy): Promise<void> {
  try {
    await checkUrl(checkTeamsUrl(secrets.url, policy), policy);
  } catch (err) {
    if (!(err instanceof DeliveryError)) throw err;
    // A host that does not resolve right now may later; the delivery reports it then.
    if (!err.retryable) throw Invalid.field('secrets.url', err.message);
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function formatLocal(instant: Date, timeZone: string): string {
  const local = new Intl.DateTimeFormat('en-GB', {
    dateStyle: 'medium',
    timeStyle: 'short',
    timeZone,
  }).format(instant);
  return `${local} (${timeZone})`;
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The Adaptive Card for a run. */
export function teamsCard(file: DeliveryFile | null, ctx: DeliveryContext) {
  const succeeded = ctx.status === 'succeeded';
  const facts = [
    ...(ctx.scheduleName ? [{ title: 'Schedule', value: ctx.scheduleName }] : []),
    { title: 'Run time', value: formatLocal(ctx.runAt, ctx.timeZone) },
    { title: 'Status', value: succeeded ? 'Succeeded' : 'Failed' },
    ...(succeeded ? [{ title: 'Rows', value: ctx.rowCount.toLocaleString('en-GB') }] : []),
    ...(file ? [{ title: 'File', value: `${file.fileName} (${formatBytes(file.size)})` }] : []),
    ...(ctx.link
      ? [{ title: 'Link valid until', value: formatLocal(ctx.link.expiresAt, ctx.timeZone) }]
      : []),
  ];
  const body: Record<string, unknown>[] = [
    { type: 'TextBlock', text: ctx.reportName, weight: 'Bolder', size: 'Medium', wrap: true },
    { type: 'FactSet', facts },
  ];
  if (!succeeded && ctx.error) {
    body.push({ type: 'TextBlock', text: cut(ctx.error, MAX_ERROR_CHARS), color: 'Attention', wrap: true });
  }
  return {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    body,
    actions: ctx.link ? [{ type: 'Action.OpenUrl', title: 'Open file', url: ctx.link.url }] : [],
  };
}

/**
 * The message body. The error text is cut to MAX_ERROR_CHARS, which keeps a
 * card with schema-sized names far below MAX_CARD_BYTES even when every
 * character takes 6 bytes of JSON; anything still over (an outsized link) is
 * refused rather than sent to fail at Teams.
 */
export function teamsMessage(file: DeliveryFile | null, ctx: DeliveryContext): string {
  const message = JSON.stringify({
    type: 'message',
    attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: teamsCard(file, ctx) }],
  });
  const size = Buffer.byteLength(message);
  if (size > MAX_CARD_BYTES) {
    throw new DeliveryError(
      `The Teams message would be ${size} bytes, over the ${MAX_CARD_BYTES} Teams accepts`,
      {
        retryable: false,
      },
    );
  }
  return message;
}

/** Posts the run's card to the workflow. 2xx (202 normally) is success; 429/5xx retryable; other 4xx permanent. */
export async function sendTeams(
  secrets: TeamsSecrets,
  file: DeliveryFile | null,
  ctx: DeliveryContext,
  options: GuardOptions,
): Promise<DeliveryReceipt> {
  const url = checkTeamsUrl(secrets.url, options.outbound);
  const body = Buffer.from(teamsMessage(file, ctx));
  const headers = { 'content-type': 'application/json', 'user-agent': 'Ferry/1' };
  const response = await safeFetch(url, { method: 'POST', headers, body: () => body }, options);
  const excerpt = await readExcerpt(response);
  if (!response.ok) throw httpFailure(response, excerpt, url.host);
  return {
    summary: `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`,
    details: { status: response.status, host: url.host, ...(excerpt ? { body: excerpt } : {}) },
  };
}
