import { localParts } from '../../lib/zoned-time.ts';

// File names from a template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm}
// (the run's scheduled or creation time in its zone). The result is always a
// single safe path segment.

export const DEFAULT_FILE_NAME = '{report}_{date:yyyy-MM-dd_HHmmss}.{ext}';

/** The placeholders a template may use, as forms describe them. */
export const fileNamePlaceholders = [
  { placeholder: '{report}', description: "The report's name, as letters, digits, . _ and -" },
  { placeholder: '{run}', description: "The first 8 characters of the run's id" },
  { placeholder: '{ext}', description: "The format's extension, e.g. csv" },
  {
    placeholder: '{recipient}',
    description:
      "A burst recipient's address (letters, digits, . _ and -); added before the extension when a recipient's run's template leaves it out",
  },
  {
    placeholder: '{date:yyyy-MM-dd_HHmmss}',
    description:
      "The run's scheduled (or start) time in its zone; yyyy MM dd HH mm ss in any order, {date} alone is yyyy-MM-dd",
  },
] as const;

export class FileNameError extends Error {}

/** Embeddings and overrides (U+202A–U+202E), isolates (U+2066–U+2069) and the invisible marks (LRM, RLM, ALM). */
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g;

function slug(text: string): string {
  return (
    text
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 80) || 'export'
  );
}

export function renderFileName(
  template: string,
  values: {
    report: string;
    runId: string;
    ext: string;
    at: Date;
    timeZone: string;
    recipient?: string | null;
  },
): string {
  const p = localParts(values.at, values.timeZone);
  const two = (n: number) => String(n).padStart(2, '0');
  const tokens: Record<string, string> = {
    yyyy: String(p.year),
    MM: two(p.month),
    dd: two(p.day),
    HH: two(p.hour),
    mm: two(p.minute),
    ss: two(p.second),
  };
  const name = template.replace(
    /\{([a-z]+)(?::([^}]*))?\}/g,
    (_m, key: string, format: string | undefined) => {
      switch (key) {
        case 'report':
          return slug(values.report);
        case 'run':
          return values.runId.slice(0, 8);
        case 'ext':
          return values.ext;
        case 'recipient':
          return values.recipient ? slug(values.recipient) : '';
        case 'date':
          return (format ?? 'yyyy-MM-dd').replace(/yyyy|MM|dd|HH|mm|ss/g, (t) => tokens[t]!);
        default:
          throw new FileNameError(
            `unknown placeholder {${key}}; use {report}, {run}, {ext}, {recipient} or {date:yyyy-MM-dd}`,
          );
      }
    },
  );
  if (/[{}]/.test(name)) throw new FileNameError('has an unclosed { or }');
  const safe = name
    // Bidirectional controls make "invoice\u202Efdp.exe" display as "invoice.pdf…":
    // a file named to look like another kind of file.
    .replace(BIDI_CONTROLS, '')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must go
    .replace(/[/\\\u0000-\u001f\u007f-\u009f:*?"<>|]+/g, '_')
    .replace(/^\.+/, '');
  if (!safe) throw new FileNameError('produces an empty file name');
  // The format's extension, also when the template leaves out {ext}: a file
  // must open in the program its format belongs to.
  const extAt = safe.toLowerCase().endsWith(`.${values.ext.toLowerCase()}`)
    ? safe.length - values.ext.length - 1
    : safe.length;
  const [stem, ext] = [safe.slice(0, extAt), safe.slice(extAt + 1) || values.ext];
  // Each recipient of a burst gets a file of its own name: in a shared bucket or
  // folder, one recipient's file must never replace another's.
  const own = values.recipient && !/\{recipient\}/.test(template) ? `_${slug(values.recipient)}` : '';
  return truncateBytes(`${stem}${own}.${ext}`, MAX_NAME_BYTES);
}

// File systems limit a name to 255 bytes; room is left for ".gz"/".zip".
const MAX_NAME_BYTES = 200;

/** Shortens to at most `max` UTF-8 bytes without splitting a character, keeping the extension. */
function truncateBytes(name: string, max: number): string {
  if (Buffer.byteLength(name) <= max) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 12 ? name.slice(dot) : '';
  let stem = [...name.slice(0, name.length - ext.length)];
  while (Buffer.byteLength(stem.join('') + ext) > max) stem = stem.slice(0, -1);
  return stem.join('') + ext;
}
