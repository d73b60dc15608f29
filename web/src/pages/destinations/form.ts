import {
  type Destination,
  type DestinationType,
  type FieldSpec,
  SECRETS,
  SETTINGS,
  type SecretSpec,
} from './shared';

// The form's values and the API body they make. Every setting is edited as text
// (a list one value per line, headers as "Name: value" lines) or a switch; the
// body holds only what was filled in, so the server's defaults apply to the rest.

export type SettingValue = string | boolean;
export type Values = {
  name: string;
  type: DestinationType;
  settings: Record<string, SettingValue>;
  /** Typed secrets: an empty one keeps what is stored. */
  secrets: Record<string, string>;
  /** Stored secrets the user chose to remove. */
  remove: Record<string, boolean>;
};

const lines = (v: string) =>
  v
    .split(/\r?\n/)
    .map((x) => x.trim())
    .filter(Boolean);
/** Recipients may be typed one per line or separated by commas. */
const items = (v: string) => lines(v.replace(/[,;]/g, '\n'));

/** Header lines "Name: value" as a record; undefined when a line has no name. */
export function parseHeaders(v: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const line of lines(v)) {
    const at = line.indexOf(':');
    if (at <= 0) return undefined;
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}

function shownValue(spec: FieldSpec, value: unknown): SettingValue {
  if (spec.kind === 'boolean') return value === true;
  if (value === undefined || value === null) return '';
  if (spec.kind === 'list') return Array.isArray(value) ? value.join('\n') : String(value);
  if (spec.kind === 'headers')
    return Object.entries((value ?? {}) as Record<string, string>)
      .map(([k, x]) => `${k}: ${x}`)
      .join('\n');
  return String(value);
}

export function initialValues(saved: Destination | undefined, type: DestinationType): Values {
  const settings: Record<string, SettingValue> = {};
  for (const spec of SETTINGS[type]) settings[spec.name] = shownValue(spec, saved?.settings[spec.name]);
  // A webhook needs a mode; event is the one that works for failed runs too.
  if (type === 'webhook' && !settings['mode']) settings['mode'] = 'event';
  const secrets: Record<string, string> = {};
  for (const spec of SECRETS[type]) secrets[spec.name] = '';
  return { name: saved?.name ?? '', type, settings, secrets, remove: {} };
}

function settingOf(spec: FieldSpec, value: SettingValue, savedHad: boolean): unknown {
  if (spec.kind === 'boolean') return value === true || savedHad ? value === true : undefined;
  const v = String(value).trim();
  if (!v) return undefined;
  switch (spec.kind) {
    case 'list':
      return items(v);
    case 'integer':
      return Number(v);
    case 'headers':
      return parseHeaders(v);
    default:
      return v;
  }
}

export function settingsOf(v: Values, saved: Destination | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const spec of SETTINGS[v.type]) {
    const value = settingOf(spec, v.settings[spec.name] ?? '', saved ? spec.name in saved.settings : false);
    if (value !== undefined) out[spec.name] = value;
  }
  return out;
}

function secretOf(spec: SecretSpec, value: string): unknown {
  return spec.kind === 'list' ? lines(value) : spec.kind === 'textarea' ? value.trim() : value;
}

/** The secrets to send: typed ones replace, removed ones are null, the rest are left out (kept). */
export function secretsOf(v: Values): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const spec of SECRETS[v.type]) {
    const typed = v.secrets[spec.name] ?? '';
    if (typed.trim()) out[spec.name] = secretOf(spec, typed);
    else if (v.remove[spec.name]) out[spec.name] = null;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
