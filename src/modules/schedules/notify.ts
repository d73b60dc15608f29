import { AppError } from '../../lib/errors.ts';
import { localParts } from '../../lib/zoned-time.ts';
import type { Deps } from '../deps.ts';
import type { FailureNotice } from './outcomes.ts';
import { failureNoticeFacts } from './repo.ts';

// The e-mail a schedule's owner (and its extra addresses) gets when a run fails
// after its retries. Sent by the `schedule.failure_notice` job: an SMTP outage
// is retried by the queue; an unconfigured SMTP server is logged, not retried.

function localTime(at: Date, timeZone: string): string {
  const p = localParts(at, timeZone);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${p.year}-${two(p.month)}-${two(p.day)} ${two(p.hour)}:${two(p.minute)} ${timeZone}`;
}

export async function sendFailureNotice(deps: Deps, notice: FailureNotice): Promise<{ sent: number }> {
  const row = await failureNoticeFacts(deps.db, notice.scheduleId, notice.runId);
  if (!row) return { sent: 0 }; // the schedule or run was deleted since
  const to = [...new Set([row.owner_email, ...row.notify_emails].filter((a): a is string => Boolean(a)))];
  if (to.length === 0) return { sent: 0 };
  const when = localTime(row.scheduled_for ?? row.created_at, row.time_zone);
  const runUrl = `${deps.config.publicUrl}/api/v1/runs/${notice.runId}`;
  const scheduleUrl = `${deps.config.publicUrl}/api/v1/schedules/${notice.scheduleId}`;
  const lines = [
    `The scheduled export "${row.name}" (report "${row.report_name}") for ${when} failed after ${row.attempts} attempt(s).`,
    '',
    `Error: ${row.run_error ?? 'unknown'}`,
    '',
    `Failed runs in a row: ${notice.failures}`,
  ];
  if (notice.paused)
    lines.push(
      '',
      'The schedule has been PAUSED so it stops failing. Fix the cause, then resume it:',
      `POST ${scheduleUrl}/resume`,
    );
  lines.push('', `Run: ${runUrl}`, `Schedule: ${scheduleUrl}`, '', '— Ferry');
  try {
    await deps.mailer.send({
      to,
      subject: `${notice.paused ? 'Paused' : 'Failed'}: scheduled export "${row.name.replace(/[\r\n]+/g, ' ')}"`,
      text: lines.join('\n'),
    });
  } catch (err) {
    // Without SMTP there is no one to tell by e-mail; the run and the schedule still show the failure.
    if (err instanceof AppError && err.code === 'Permanent') {
      deps.log.warn(
        { err: { message: err.message }, scheduleId: notice.scheduleId },
        'failure notice not sent',
      );
      return { sent: 0 };
    }
    throw err;
  }
  return { sent: to.length };
}
