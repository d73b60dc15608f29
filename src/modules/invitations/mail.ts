import { describeError } from '../../lib/errors.ts';
import type { Deps } from '../deps.ts';
import type { EmailStatus } from './repo.ts';

// The invitation e-mail. It is the same whether or not the address has an
// account (the page behind the link explains both cases), and it is sent inside
// the inviter's request so they learn at once whether it went out; the link is
// returned to them in every case, to pass on another way if it did not.

// An SMTP server that is slow to answer should not hold the inviter's request for
// the mailer's full network timeouts.
const SEND_BUDGET_MS = 15_000;

export interface InvitationMail {
  to: string;
  tenantName: string;
  role: string;
  inviter: string;
  acceptUrl: string;
  expiresAt: Date;
}

/** Header values cannot carry line breaks; names typed by users might. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

export function composeInvitationMail(m: InvitationMail): { subject: string; text: string } {
  const tenant = oneLine(m.tenantName);
  const text = [
    `${oneLine(m.inviter)} invited you to join "${tenant}" on Ferry as ${m.role}.`,
    '',
    'To accept, open this link:',
    m.acceptUrl,
    '',
    'If you already have a Ferry account with this e-mail address, you confirm with its password;',
    'otherwise you choose a password for your new account.',
    '',
    `The link works once and expires at ${m.expiresAt.toISOString()}.`,
    'If you did not expect this invitation, ignore this e-mail: nothing happens unless you accept.',
    '',
    '— Ferry',
  ].join('\n');
  return { subject: `Invitation to join "${tenant}" on Ferry`, text };
}

export async function sendInvitationMail(
  deps: Pick<Deps, 'config' | 'mailer' | 'log'>,
  mail: InvitationMail,
): Promise<{ status: EmailStatus; error: string | null }> {
  if (!deps.config.smtp) return { status: 'not_configured', error: null };
  try {
    await deps.mailer.send(
      { to: [mail.to], ...composeInvitationMail(mail) },
      AbortSignal.timeout(SEND_BUDGET_MS),
    );
    return { status: 'sent', error: null };
  } catch (err) {
    deps.log.warn({ err: { message: describeError(err) } }, 'invitation e-mail not sent');
    return { status: 'failed', error: describeError(err).slice(0, 500) };
  }
}
