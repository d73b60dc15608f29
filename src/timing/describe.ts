import cronstrue from 'cronstrue';
// Registers cronstrue's German texts on the same cronstrue instance (the locale
// file requires "cronstrue" and adds itself to its locale table).
import 'cronstrue/locales/de.js';

// A timing in words, in English or German (the languages of the web UI). The
// English sentences are cronstrue's, with Ferry's business-day clauses; the
// German ones are Ferry's own for the shapes the presets make (daily,
// weekdays, weekly, monthly, quarterly, yearly, hourly, last business day),
// and cronstrue's German for any other expression.

export const descriptionLanguages = ['en', 'de'] as const;
export type DescriptionLanguage = (typeof descriptionLanguages)[number];

/** What a description needs to know about the business days of a timing. */
export interface DescribedTiming {
  /** The five cron fields. */
  fields: string[];
  timeZone: string;
  lastBusinessDay: boolean;
  /** Occurrences on days that are not business days are skipped; null when every day counts. */
  businessDays: { label(language: DescriptionLanguage): string } | null;
  /** The business days are the default (weekends off, no holidays), not a chosen calendar. */
  defaultBusinessDays: boolean;
}

const cronstrueOptions = { use24HourTimeFormat: true, verbose: false, throwExceptionOnParseError: false };

export function describeTiming(timing: DescribedTiming, language: DescriptionLanguage): string {
  const text = language === 'de' ? describeGerman(timing) : describeEnglish(timing);
  return `${text}, ${timing.timeZone}`;
}

function describeEnglish({ fields, lastBusinessDay, businessDays, defaultBusinessDays }: DescribedTiming) {
  let text: string;
  if (lastBusinessDay) {
    const time = cronstrue.toString(`${fields[0]} ${fields[1]} * * *`, cronstrueOptions);
    text = `${time}, on the last business day of the month`;
    if (businessDays && !defaultBusinessDays) text += ` (${businessDays.label('en')})`;
  } else {
    text = cronstrue.toString(fields.join(' '), cronstrueOptions);
    if (businessDays) text += `, business days only (${businessDays.label('en')})`;
  }
  return text;
}

const GERMAN_WEEKDAYS = [
  'Sonntag',
  'Montag',
  'Dienstag',
  'Mittwoch',
  'Donnerstag',
  'Freitag',
  'Samstag',
  'Sonntag',
] as const;
const GERMAN_MONTHS = [
  'Januar',
  'Februar',
  'März',
  'April',
  'Mai',
  'Juni',
  'Juli',
  'August',
  'September',
  'Oktober',
  'November',
  'Dezember',
] as const;

const number = /^\d{1,2}$/;
const pad = (n: number) => String(n).padStart(2, '0');

/** cronstrue's German, with lists joined as German joins them: "Juli und Oktober", not "Juli, und Oktober". */
function cronstrueGerman(expression: string): string {
  return cronstrue.toString(expression, { ...cronstrueOptions, locale: 'de' }).replaceAll(', und ', ' und ');
}

/** "A", "A und B", "A, B und C". */
function germanList(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} und ${items[items.length - 1]}`;
}

/** The months of a month field that lists plain numbers (1,4,7,10), in order; null for anything else. */
function monthList(field: string): number[] | null {
  const parts = field.split(',');
  if (!parts.every((p) => number.test(p))) return null;
  const months = [...new Set(parts.map(Number))].sort((a, b) => a - b);
  return months.every((m) => m >= 1 && m <= 12) ? months : null;
}

/** Ferry's German sentence for the shapes the presets make; null for any other expression. */
function germanPresetSentence(fields: string[]): string | null {
  const [minute = '', hour = '', dom = '', month = '', dow = ''] = fields;
  if (!number.test(minute)) return null;
  if (hour === '*') {
    // hourly
    if (dom !== '*' || month !== '*' || dow !== '*') return null;
    const m = Number(minute);
    if (m === 0) return 'Stündlich zur vollen Stunde';
    return `Stündlich, ${m} ${m === 1 ? 'Minute' : 'Minuten'} nach der vollen Stunde`;
  }
  if (!number.test(hour)) return null;
  const time = `${pad(Number(hour))}:${pad(Number(minute))}`;
  const at = `um ${time}`;
  if (dom === '*' && month === '*') {
    // daily, weekdays, weekly
    if (dow === '*') return `Um ${time}`;
    if (dow === '1-5') return `Um ${time}, Montag bis Freitag`;
    if (/^[0-7]$/.test(dow)) return `Jeden ${GERMAN_WEEKDAYS[Number(dow)]} ${at}`;
    return null;
  }
  if (dow !== '*' || (dom !== 'L' && !number.test(dom))) return null;
  const day = dom === 'L' ? null : Number(dom);
  if (month === '*') {
    // monthly
    return day === null ? `Am letzten Tag des Monats ${at}` : `Am ${day}. des Monats ${at}`;
  }
  const months = monthList(month);
  if (!months) return null;
  const names = germanList(months.map((m) => GERMAN_MONTHS[m - 1]!));
  const quarterly = months.join(',') === '1,4,7,10';
  const prefix = quarterly ? 'Vierteljährlich am' : months.length === 1 ? 'Jährlich am' : 'Am';
  return day === null ? `${prefix} letzten Tag im ${names} ${at}` : `${prefix} ${day}. ${names} ${at}`;
}

function describeGerman({ fields, lastBusinessDay, businessDays, defaultBusinessDays }: DescribedTiming) {
  const [minute = '', hour = ''] = fields;
  if (lastBusinessDay) {
    let text =
      number.test(minute) && number.test(hour)
        ? `Am letzten Geschäftstag des Monats um ${pad(Number(hour))}:${pad(Number(minute))}`
        : `${cronstrueGerman(`${minute} ${hour} * * *`)}, am letzten Geschäftstag des Monats`;
    if (businessDays && !defaultBusinessDays) text += ` (${businessDays.label('de')})`;
    return text;
  }
  let text = germanPresetSentence(fields) ?? cronstrueGerman(fields.join(' '));
  if (businessDays) text += `, nur an Geschäftstagen (${businessDays.label('de')})`;
  return text;
}
