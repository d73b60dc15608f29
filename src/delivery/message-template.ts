import { Invalid } from '../lib/errors.ts';
import { localParts } from '../lib/zoned-time.ts';
import type { DeliveryContext, DeliveryFile } from './types.ts';

// Subjects and bodies of report e-mails: `{{variable}}` placeholders filled from
// the run. The template is the author's own (an HTML template may hold any
// markup); the values are not, so each is escaped for where it lands: HTML
// entities in an HTML body, no control characters in a subject (a CR/LF there
// would start a header of its own).

export const templateVariables = [
  'report',
  'schedule',
  'run_time',
  'date',
  'rows',
  'size',
  'file',
  'format',
  'link',
  'link_expires',
  'status',
  'error',
  'tenant',
  'recipient',
] as const;
export type TemplateVariable = (typeof templateVariables)[number];
export type TemplateValues = Record<TemplateVariable, string>;

const known = new Set<string>(templateVariables);
const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;
const MAX_SUBJECT_LENGTH = 200;

/** Every problem in a template, in words: unknown variables and unclosed braces. Empty when it is usable. */
export function templateProblems(text: string): string[] {
  const problems: string[] = [];
  const unknown = new Set<string>();
  for (const match of text.matchAll(PLACEHOLDER)) {
    const name = (match[1] ?? '').trim();
    if (!known.has(name)) unknown.add(name);
  }
  for (const name of unknown) {
    problems.push(
      `unknown variable {{${name}}}; the variables are ${templateVariables.map((v) => `{{${v}}}`).join(', ')}`,
    );
  }
  // What is left once the placeholders are taken out must not open one: "{{report" is a typo.
  if (text.replace(PLACEHOLDER, '').includes('{{')) problems.push('"{{" without a closing "}}"');
  return problems;
}

/** Throws Invalid naming the field and each problem; for a destination's templates when it is saved. */
export function checkTemplate(text: string, path = 'template'): void {
  const problems = templateProblems(text);
  if (problems.length === 0) return;
  throw new Invalid(
    `${path}: ${problems.join('; ')}`,
    problems.map((message) => ({ path, message })),
  );
}

/** The values for a run; `file` is null when the run failed and there is no file. */
export function templateValues(ctx: DeliveryContext, file: DeliveryFile | null): TemplateValues {
  return {
    report: ctx.reportName,
    schedule: ctx.scheduleName ?? '',
    run_time: formatLocalTime(ctx.runAt, ctx.timeZone),
    date: formatLocalDate(ctx.runAt, ctx.timeZone),
    rows: ctx.rowCount.toLocaleString('en'),
    size: file ? formatBytes(file.size) : '',
    file: file?.fileName ?? '',
    format: ctx.format,
    link: ctx.link?.url ?? '',
    link_expires: ctx.link ? formatLocalTime(ctx.link.expiresAt, ctx.timeZone) : '',
    status: ctx.status,
    error: ctx.error ?? '',
    tenant: ctx.tenantName,
    recipient: ctx.recipient ?? '',
  };
}

/** A plain-text body: values as they are. */
export function renderText(template: string, values: TemplateValues): string {
  return fill(template, values, (v) => v);
}

/** An HTML body: every value HTML-escaped, the template's own markup kept. */
export function renderHtml(template: string, values: TemplateValues): string {
  return fill(template, values, escapeHtml);
}

/** A subject: one line with no control characters, whatever the template or the values hold. */
export function renderSubject(template: string, values: TemplateValues): string {
  const line = fill(template, values, (v) => v)
    // Line breaks (CR, LF, NEL, U+2028/9) and tabs read as spaces; other control characters go.
    .replace(/[\r\n\t\u0085\u2028\u2029]+/g, ' ')
    .replace(/\p{Cc}/gu, '')
    .trim();
  const chars = Array.from(line);
  return chars.length > MAX_SUBJECT_LENGTH ? `${chars.slice(0, MAX_SUBJECT_LENGTH - 1).join('')}…` : line;
}

function fill(template: string, values: TemplateValues, encode: (value: string) => string): string {
  return template.replace(PLACEHOLDER, (placeholder, raw: string) => {
    const name = raw.trim();
    if (!known.has(name)) throw Invalid.field('template', templateProblems(placeholder).join('; '));
    return encode(values[name as TemplateVariable]);
  });
}

export function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** "2026-03-02 07:00 Europe/Berlin": the wall-clock time where the schedule lives. */
export function formatLocalTime(at: Date, timeZone: string): string {
  const p = localParts(at, timeZone);
  return `${formatLocalDate(at, timeZone)} ${two(p.hour)}:${two(p.minute)} ${timeZone}`;
}

function formatLocalDate(at: Date, timeZone: string): string {
  const p = localParts(at, timeZone);
  return `${p.year}-${two(p.month)}-${two(p.day)}`;
}

function two(n: number): string {
  return String(n).padStart(2, '0');
}

const units = ['B', 'kB', 'MB', 'GB', 'TB'] as const;

/** "1.2 MB": decimal units, as Ferry's limits are given (10 MB = 10,000,000 bytes), one decimal at most. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  // Move up while the rounded figure would read 1000 or more ("1000 kB" is "1 MB").
  while (unit < units.length - 1 && Math.round(value * 10) / 10 >= 1000) {
    value /= 1000;
    unit += 1;
  }
  const figure = unit === 0 ? String(value) : String(Math.round(value * 10) / 10);
  return `${figure} ${units[unit]}`;
}

/** How the file reaches the recipient, which decides the default wording. */
export type MessageSituation = 'attached' | 'link' | 'too_large' | 'failed';

export interface MessageTemplates {
  subject: string;
  text: string;
  html: string;
}

const facts = {
  text: 'Report: {{report}}\nRun: {{run_time}}\nRows: {{rows}}\nFile: {{file}} ({{format}}, {{size}})',
  html:
    '<table cellpadding="4" style="border-collapse:collapse">' +
    '<tr><td>Report</td><td><strong>{{report}}</strong></td></tr>' +
    '<tr><td>Run</td><td>{{run_time}}</td></tr>' +
    '<tr><td>Rows</td><td>{{rows}}</td></tr>' +
    '<tr><td>File</td><td>{{file}} ({{format}}, {{size}})</td></tr></table>',
};
const signature = {
  text: '\n\n— Ferry, for {{tenant}}',
  html: '<p style="color:#666">— Ferry, for {{tenant}}</p>',
};

function htmlPage(body: string): string {
  return `<!doctype html><html><body style="font-family:sans-serif;font-size:14px">${body}${signature.html}</body></html>`;
}

function linkParagraph(lead: string) {
  return {
    text: `${lead}\n{{link}}\nThe link works until {{link_expires}}.`,
    html: `<p>${lead}<br><a href="{{link}}">{{link}}</a><br>The link works until {{link_expires}}.</p>`,
  };
}

const linkOnly = linkParagraph('Download the file here:');
const tooLarge = linkParagraph('The file is too large to attach. Download it here:');

/** The built-in English wording for each situation; a destination's own templates replace them. */
export const defaultTemplates: Readonly<Record<MessageSituation, MessageTemplates>> = {
  attached: {
    subject: '{{report}} — {{date}}',
    text: `${facts.text}\n\nThe file is attached.${signature.text}`,
    html: htmlPage(`${facts.html}<p>The file is attached.</p>`),
  },
  link: {
    subject: '{{report}} — {{date}}',
    text: `${facts.text}\n\n${linkOnly.text}${signature.text}`,
    html: htmlPage(`${facts.html}${linkOnly.html}`),
  },
  too_large: {
    subject: '{{report}} — {{date}}',
    text: `${facts.text}\n\n${tooLarge.text}${signature.text}`,
    html: htmlPage(`${facts.html}${tooLarge.html}`),
  },
  failed: {
    subject: 'Failed: {{report}} — {{date}}',
    text: `The run of {{report}} for {{run_time}} failed:\n{{error}}${signature.text}`,
    html: htmlPage(
      '<p>The run of <strong>{{report}}</strong> for {{run_time}} failed:</p><pre>{{error}}</pre>',
    ),
  },
};

/**
 * What to add to an author's own body that does not carry the link although the
 * file is not attached: the recipient must still learn where the file is.
 */
export const linkNotice: Readonly<Record<'link' | 'too_large', { text: string; html: string }>> = {
  link: { text: `\n\n${linkOnly.text}`, html: linkOnly.html },
  too_large: { text: `\n\n${tooLarge.text}`, html: tooLarge.html },
};
