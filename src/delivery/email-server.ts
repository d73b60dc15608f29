import { Type } from 'typebox';
import type { SmtpConfig } from '../config.ts';
import { Invalid } from '../lib/errors.ts';
import { createMailer, type Mailer } from './email.ts';
import { resolveCheckedHost } from './host-check.ts';
import { DeliveryError, type SendOptions } from './types.ts';

// An e-mail destination may send through the tenant's own SMTP server instead
// of the instance's (SMTP_* variables): its host, port, security, user and From
// address are settings, its password a write-only secret. The host is an
// outbound address like a webhook's: it must not lead into Ferry's own network
// (checked when saved and again, resolved, before every connection).

export const EmailServerSettings = {
  smtpHost: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 253,
      description: "Send through this SMTP server instead of the instance's (SMTP_HOST); needs smtpFrom",
    }),
  ),
  smtpPort: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 65535, description: 'Default 465 with smtpSecurity tls, else 587' }),
  ),
  smtpSecurity: Type.Optional(
    Type.Union([Type.Literal('starttls'), Type.Literal('tls'), Type.Literal('none')], {
      description:
        'starttls (default): the connection must be upgraded to TLS; tls: TLS from the start (port 465); none: no encryption, for a relay on a network you trust',
    }),
  ),
  smtpUser: Type.Optional(
    Type.String({ minLength: 1, maxLength: 320, description: 'Needs the smtpPassword secret' }),
  ),
  smtpFrom: Type.Optional(
    Type.String({
      minLength: 3,
      maxLength: 320,
      description: 'The From address, e.g. "Reports <reports@example.com>"',
    }),
  ),
};

export const EmailServerSecrets = {
  smtpPassword: Type.Optional(
    Type.String({ minLength: 1, maxLength: 1000, description: "The SMTP user's password" }),
  ),
};

export interface EmailServerFields {
  smtpHost?: string | undefined;
  smtpPort?: number | undefined;
  smtpSecurity?: 'starttls' | 'tls' | 'none' | undefined;
  smtpUser?: string | undefined;
  smtpFrom?: string | undefined;
}

const FROM = /^[^@\s<>]+@[^@\s<>]+$|<[^@\s<>]+@[^@\s<>]+>$/;

/** The destination's own server as the mailer takes it, or undefined when it uses the instance's. */
export function ownSmtp(
  s: EmailServerFields,
  secrets: { smtpPassword?: unknown } | null,
): (SmtpConfig & { requireTls: boolean }) | undefined {
  if (!s.smtpHost) return undefined;
  const security = s.smtpSecurity ?? 'starttls';
  const password = typeof secrets?.smtpPassword === 'string' ? secrets.smtpPassword : undefined;
  return {
    host: s.smtpHost.trim(),
    port: s.smtpPort ?? (security === 'tls' ? 465 : 587),
    secure: security === 'tls',
    requireTls: security === 'starttls',
    user: s.smtpUser,
    password,
    from: s.smtpFrom ?? '',
  };
}

/** The rules a schema cannot say, each naming its field; the host checked against the outbound rules. */
export async function checkEmailServer(
  s: EmailServerFields,
  secrets: { smtpPassword?: unknown } | null,
  policy: SendOptions['outbound'],
): Promise<void> {
  const other = (['smtpPort', 'smtpSecurity', 'smtpUser', 'smtpFrom'] as const).find(
    (k) => s[k] !== undefined,
  );
  if (!s.smtpHost) {
    if (other) throw Invalid.field(`settings.${other}`, 'needs smtpHost (the server to send through)');
    return;
  }
  if (!s.smtpFrom || !FROM.test(s.smtpFrom.trim()))
    throw Invalid.field(
      'settings.smtpFrom',
      'an e-mail address such as "Reports <reports@example.com>" is required with smtpHost',
    );
  if (s.smtpUser && typeof secrets?.smtpPassword !== 'string')
    throw Invalid.field('secrets.smtpPassword', 'is required with smtpUser');
  try {
    await resolveCheckedHost(s.smtpHost.trim(), policy);
  } catch (err) {
    // A name that does not resolve right now may later; the delivery says so then.
    if (err instanceof DeliveryError && !err.retryable) throw Invalid.field('settings.smtpHost', err.message);
    if (!(err instanceof DeliveryError)) throw err;
  }
}

/**
 * Runs `use` with the mailer a destination sends through: the instance's, or one
 * for its own server, connected to an address checked just now (so DNS cannot
 * answer differently at connect time) and closed afterwards.
 */
export async function withDestinationMailer<T>(
  s: EmailServerFields,
  secrets: { smtpPassword?: unknown } | null,
  instance: Mailer,
  options: SendOptions,
  use: (mailer: Mailer) => Promise<T>,
): Promise<T> {
  const own = ownSmtp(s, secrets);
  if (!own) return use(instance);
  const [address] = await resolveCheckedHost(own.host, options.outbound);
  const mailer = createMailer(own, undefined, { settings: 'tenant', connectTo: address!.address });
  try {
    return await use(mailer);
  } finally {
    mailer.close();
  }
}
