import { type TSchema, Type } from 'typebox';
import {
  checkEmailSettings,
  type EmailSettings,
  EmailSettingsSchema,
  sendReportEmail,
  testReportEmail,
} from '../../delivery/email-channel.ts';
import { checkEmailServer, EmailServerSecrets, withDestinationMailer } from '../../delivery/email-server.ts';
import {
  checkS3Settings,
  type S3DestinationSettings,
  S3DestinationSettingsSchema,
  type S3Secrets,
  s3SecretFields,
  sendS3,
  testS3,
} from '../../delivery/s3-destination.ts';
import {
  checkSftpSecrets,
  checkSftpSettings,
  type SftpSecrets,
  type SftpSettings,
  SftpSettingsSchema,
  sendSftp,
  sftpSecretFields,
  testSftp,
} from '../../delivery/sftp.ts';
import {
  checkSlackSecrets,
  checkSlackSettings,
  type SlackSecrets,
  type SlackSettings,
  SlackSettingsSchema,
  sendSlack,
  slackSecretFields,
  testSlack,
} from '../../delivery/slack.ts';
import { checkTeamsSecrets, sendTeams, TeamsSecrets, TeamsSettings } from '../../delivery/teams.ts';
import { type DeliveryContext, DeliveryError, type DeliveryFile } from '../../delivery/types.ts';
import {
  checkWebhookSettings,
  sendWebhook,
  WebhookSecrets,
  WebhookSettings,
} from '../../delivery/webhook.ts';
import { Invalid } from '../../lib/errors.ts';
import type { Channel, DestinationType, Secrets, Settings } from './channel.ts';

// Each delivery channel of src/delivery as the destinations and deliveries
// modules use it: its schemas, where it sends (for the "secrets again" rule and
// the audit), who receives (for the tenant's allow-lists), checks, send and test.

/** A TypeBox object of a channel's write-only fields. */
function secretSchema(fields: ReadonlyArray<{ name: string; description: string }>): TSchema {
  return Type.Object(
    Object.fromEntries(
      fields.map((f) => [
        f.name,
        Type.Optional(Type.String({ minLength: 1, maxLength: 20_000, description: f.description })),
      ]),
    ),
    { additionalProperties: false },
  );
}

/** A channel check's field errors, put under `settings.` or `secrets.` where they are not already. */
async function under(prefix: 'settings' | 'secrets', check: () => unknown): Promise<void> {
  try {
    await check();
  } catch (err) {
    if (!(err instanceof Invalid) || !err.errors) throw err;
    const errors = err.errors.map((e) =>
      /^(settings|secrets)(\.|$)/.test(e.path) ? e : { ...e, path: `${prefix}.${e.path}` },
    );
    throw new Invalid(errors.map((e) => `${e.path}: ${e.message}`).join('; '), errors);
  }
}

const hostOf = (url: unknown) => {
  try {
    return new URL(String(url)).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  } catch {
    return '';
  }
};

/** A file channel has nothing to send for a failed run. */
function needFile(file: DeliveryFile | null, ctx: DeliveryContext, what: string): DeliveryFile {
  if (file && ctx.status === 'succeeded') return file;
  throw new DeliveryError(`The run failed: there is no file to ${what}`, { retryable: false });
}

const email: Channel = {
  type: 'email',
  settings: EmailSettingsSchema,
  secrets: Type.Object(EmailServerSecrets, { additionalProperties: false }),
  requiredSecrets: [],
  target: (s) => {
    const e = s as EmailSettings;
    const to = [...e.to, ...(e.cc ?? []), ...(e.bcc ?? [])].map((a) => a.toLowerCase()).sort();
    // Another server (or user on it) is another place: the password must be given again.
    const server = e.smtpHost ? `smtp://${e.smtpUser ?? ''}@${e.smtpHost}:${e.smtpPort ?? ''} ` : '';
    return `${server}${to.join(',')}`;
  },
  recipients: (s) => {
    const e = s as EmailSettings;
    return { emails: [...e.to, ...(e.cc ?? []), ...(e.bcc ?? [])], hosts: [] };
  },
  check: async (s, secrets, env) => {
    under('settings', () => checkEmailSettings(s as EmailSettings));
    await checkEmailServer(s as EmailSettings, secrets, env.send.outbound);
  },
  notifiesFailures: () => false,
  send: (s, secrets, file, ctx, env) =>
    withDestinationMailer(s as EmailSettings, secrets, env.mailer, env.send, (mailer) =>
      sendReportEmail(s as EmailSettings, file, ctx, mailer, { ...env.send }),
    ),
  test: (s, secrets, env) =>
    withDestinationMailer(s as EmailSettings, secrets, env.mailer, env.send, (mailer) =>
      testReportEmail(s as EmailSettings, mailer, { ...env.send }),
    ),
};

const webhook: Channel = {
  type: 'webhook',
  settings: WebhookSettings,
  secrets: WebhookSecrets,
  requiredSecrets: ['secrets'],
  target: (s) => hostOf((s as WebhookSettings).url),
  recipients: (s) => ({ emails: [], hosts: [hostOf((s as WebhookSettings).url)] }),
  check: (s, secrets, env) =>
    checkWebhookSettings(
      s as WebhookSettings,
      (secrets as WebhookSecrets | null) ?? { secrets: [] },
      env.send.outbound,
    ),
  // Event mode tells a failed run too ("run.failed"); file mode has no file then.
  notifiesFailures: (s) => (s as WebhookSettings).mode === 'event',
  send: (s, secrets, file, ctx, env) =>
    sendWebhook(s as WebhookSettings, (secrets as WebhookSecrets).secrets, file, ctx, env.send),
  test: (s, secrets, env) =>
    sendWebhook(
      { ...(s as WebhookSettings), mode: 'event' },
      (secrets as WebhookSecrets).secrets,
      null,
      testContext(),
      env.send,
    ),
};

const teams: Channel = {
  type: 'teams',
  settings: TeamsSettings,
  secrets: TeamsSecrets,
  requiredSecrets: ['url'],
  target: (_s, secrets) => hostOf(secrets?.['url']),
  recipients: (_s, secrets) => ({ emails: [], hosts: secrets?.['url'] ? [hostOf(secrets['url'])] : [] }),
  check: (_s, secrets, env) => checkTeamsSecrets((secrets ?? {}) as TeamsSecrets, env.send.outbound),
  notifiesFailures: () => true,
  send: (_s, secrets, file, ctx, env) => sendTeams(secrets as TeamsSecrets, file, ctx, env.send),
  test: (_s, secrets, env) => sendTeams(secrets as TeamsSecrets, null, testContext(), env.send),
};

const slack: Channel = {
  type: 'slack',
  settings: SlackSettingsSchema,
  secrets: secretSchema(slackSecretFields),
  requiredSecrets: slackSecretFields.filter((f) => f.required).map((f) => f.name),
  target: (s) => `slack:${(s as SlackSettings).channel}`,
  recipients: () => ({ emails: [], hosts: [] }),
  check: async (s, secrets) => {
    await under('settings', () => checkSlackSettings(s as SlackSettings));
    if (secrets) await under('secrets', () => checkSlackSecrets(secrets as unknown as SlackSecrets));
  },
  notifiesFailures: () => true,
  send: (s, secrets, file, ctx, env) =>
    sendSlack(s as SlackSettings, secrets as unknown as SlackSecrets, file, ctx, env.send),
  test: (s, secrets, env) => testSlack(s as SlackSettings, secrets as unknown as SlackSecrets, env.send),
};

const s3: Channel = {
  type: 's3',
  settings: S3DestinationSettingsSchema,
  secrets: secretSchema(s3SecretFields),
  requiredSecrets: s3SecretFields.filter((f) => f.required).map((f) => f.name),
  target: (s) => {
    const b = s as S3DestinationSettings;
    return `${b.endpoint ?? 'aws'}|${b.region ?? ''}|${b.bucket}|${b.accessKeyId}`;
  },
  recipients: () => ({ emails: [], hosts: [] }),
  check: (s) => under('settings', () => checkS3Settings(s as S3DestinationSettings)),
  notifiesFailures: () => false,
  send: (s, secrets, file, ctx, env) =>
    sendS3(
      s as S3DestinationSettings,
      secrets as unknown as S3Secrets,
      needFile(file, ctx, 'upload to S3'),
      ctx,
      env.send,
    ),
  test: (s, secrets, env) => testS3(s as S3DestinationSettings, secrets as unknown as S3Secrets, env.send),
};

const sftp: Channel = {
  type: 'sftp',
  settings: SftpSettingsSchema,
  secrets: secretSchema(sftpSecretFields),
  // A password or a private key: either will do (checkSftpSecrets says so).
  requiredSecrets: [],
  target: (s) => {
    const f = s as SftpSettings;
    return `${f.username}@${f.host.toLowerCase()}:${f.port ?? 22}`;
  },
  recipients: () => ({ emails: [], hosts: [] }),
  check: async (s, secrets) => {
    await under('settings', () => checkSftpSettings(s as SftpSettings));
    await under('secrets', () => checkSftpSecrets((secrets ?? {}) as SftpSecrets));
  },
  notifiesFailures: () => false,
  send: (s, secrets, file, ctx, env) =>
    sendSftp(s as SftpSettings, secrets as SftpSecrets, needFile(file, ctx, 'upload by SFTP'), ctx, env.send),
  test: (s, secrets, env) => testSftp(s as SftpSettings, secrets as SftpSecrets, env.send),
};

export const channels: Record<DestinationType, Channel> = { email, webhook, teams, slack, s3, sftp };

/** What a "Send test" message says it is about. */
function testContext(): DeliveryContext {
  const now = new Date();
  return {
    tenantName: '',
    runId: '00000000-0000-0000-0000-000000000000',
    status: 'succeeded',
    error: null,
    reportName: 'Ferry test message',
    scheduleName: null,
    scheduleId: null,
    runAt: now,
    finishedAt: now,
    timeZone: 'UTC',
    rowCount: 0,
    format: 'csv',
    link: null,
    deliveryId: `test-${now.getTime()}`,
    attempt: 1,
  };
}

export type { Secrets, Settings };
