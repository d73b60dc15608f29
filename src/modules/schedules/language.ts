import type { DescriptionLanguage } from '../../timing/describe.ts';

// The language of a schedule's description, from the request's Accept-Language
// header (RFC 9110 section 12.5.4): "de", "de-DE" and "de-AT" are German,
// everything else English. A range's weight is its q-value (1 when absent,
// q=0 meaning "not this one"); "*" stands for any language the header does
// not name. The highest weight wins, the earlier range on a tie; a header
// that accepts neither German nor English gets English.

const RANGE = /^(?:\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)$/;
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;
const SUPPORTED: readonly DescriptionLanguage[] = ['en', 'de'];

interface WeightedRange {
  /** The primary language subtag in lower case, or "*". */
  language: string;
  q: number;
  position: number;
}

/** The well-formed ranges of an Accept-Language header with their weights; malformed ones are left out. */
export function parseAcceptLanguage(header: string): WeightedRange[] {
  const ranges: WeightedRange[] = [];
  for (const [position, part] of header.split(',').entries()) {
    const [range = '', ...params] = part.split(';').map((s) => s.trim());
    if (!RANGE.test(range)) continue;
    let q = 1;
    let valid = true;
    for (const param of params) {
      const m = /^q\s*=\s*(.*)$/i.exec(param);
      if (!m) continue;
      if (!QVALUE.test(m[1]!)) valid = false;
      else q = Number(m[1]);
    }
    if (valid) ranges.push({ language: range.split('-')[0]!.toLowerCase(), q, position });
  }
  return ranges;
}

/** The language to describe schedules in for a request's Accept-Language header. */
export function descriptionLanguageOf(header: string | string[] | undefined): DescriptionLanguage {
  if (header === undefined) return 'en';
  const ranges = parseAcceptLanguage(Array.isArray(header) ? header.join(',') : header);
  const wildcard = ranges.find((r) => r.language === '*');
  let best: { language: DescriptionLanguage; q: number; position: number } | null = null;
  for (const language of SUPPORTED) {
    const named = ranges.filter((r) => r.language === language);
    // The most favourable range naming the language; "*" only for a language the header does not name.
    const weight = named.length > 0 ? named.reduce((a, b) => (b.q > a.q ? b : a)) : wildcard;
    if (!weight || weight.q <= 0) continue;
    if (!best || weight.q > best.q || (weight.q === best.q && weight.position < best.position))
      best = { language, q: weight.q, position: weight.position };
  }
  return best?.language ?? 'en';
}
