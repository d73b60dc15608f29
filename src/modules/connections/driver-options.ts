import { type SslMode, sslModes } from '../../engine/sources/tls.ts';
import { Invalid } from '../../lib/errors.ts';

// The driver options a tenant may set, per driver: everything else is refused
// by name. The same list reads a URL's query (?sslmode=require) and the field
// form's `config.options` object. Ferry's own settings (one statement per query,
// no LOCAL INFILE, no packet log, read-only transactions, timeouts) are not
// options: the sources apply them after these, and nothing here reaches them.

export type ServerType = 'postgres' | 'mysql';
export type OptionValue = string | number | boolean;

/** What an allowed option sets. */
export type OptionEffect =
  | { kind: 'option'; name: string; value: string | number }
  | { kind: 'sslmode'; mode: SslMode }
  | { kind: 'ssl'; on: boolean }
  | { kind: 'socket'; path: string }
  | { kind: 'passphrase'; value: string };

interface Rule {
  /** Only in a URL's query: the field form has a field of its own for it. */
  urlOnly?: string;
  read(value: OptionValue): OptionEffect | string;
}

const text = (name: string, max: number) => ({
  read: (v: OptionValue) =>
    typeof v === 'string' && v.length <= max && /^[\x20-\x7e]*$/.test(v)
      ? { kind: 'option' as const, name, value: v }
      : `must be printable ASCII text of at most ${max} characters`,
});

const integer = (name: string, min: number, max: number, unit: string) => ({
  read: (v: OptionValue) => {
    const n =
      typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,9}$/.test(v) ? Number(v) : Number.NaN;
    return Number.isInteger(n) && n >= min && n <= max
      ? { kind: 'option' as const, name, value: n }
      : `must be a whole number of ${unit} from ${min} to ${max}`;
  },
});

const boolean = {
  read: (v: OptionValue): OptionEffect | string => {
    if (v === true || v === 'true' || v === '1') return { kind: 'ssl', on: true };
    if (v === false || v === 'false' || v === '0') return { kind: 'ssl', on: false };
    return 'must be true or false (certificates go in config.tls)';
  },
};

const sslmode = {
  read: (v: OptionValue): OptionEffect | string =>
    typeof v === 'string' && (sslModes as readonly string[]).includes(v)
      ? { kind: 'sslmode', mode: v as SslMode }
      : `must be one of ${sslModes.join(', ')}`,
};

// MySQL's --ssl-mode names for the same modes.
const mysqlModes: Record<string, SslMode> = {
  DISABLED: 'disable',
  PREFERRED: 'prefer',
  REQUIRED: 'require',
  VERIFY_CA: 'verify-ca',
  VERIFY_IDENTITY: 'verify-full',
};
const mysqlSslMode = {
  read: (v: OptionValue): OptionEffect | string => {
    const mode = typeof v === 'string' ? mysqlModes[v.toUpperCase()] : undefined;
    return mode ? { kind: 'sslmode', mode } : `must be one of ${Object.keys(mysqlModes).join(', ')}`;
  },
};

const socket = (field: string) => ({
  urlOnly: `use config.host (a socket path) in the field form`,
  read: (v: OptionValue): OptionEffect | string =>
    typeof v === 'string' && v !== '' ? { kind: 'socket', path: v } : `must be a path (${field})`,
});

/** utf8mb4 collations known to the driver: Ferry reads text as UTF-8. */
export const mysqlCharsets = [
  'utf8mb4',
  'utf8mb4_general_ci',
  'utf8mb4_unicode_ci',
  'utf8mb4_unicode_520_ci',
  'utf8mb4_bin',
  'utf8mb4_0900_ai_ci',
  'utf8mb4_0900_as_ci',
  'utf8mb4_0900_as_cs',
  'utf8mb4_0900_bin',
] as const;

export const allowedOptions: Record<ServerType, Record<string, Rule>> = {
  postgres: {
    sslmode,
    ssl: boolean,
    application_name: text('application_name', 63),
    connect_timeout: integer('connect_timeout', 1, 60, 'seconds'),
    sslpassword: {
      urlOnly: 'use config.tls.passphrase in the field form',
      read: (v) =>
        typeof v === 'string' && v !== '' ? { kind: 'passphrase', value: v } : 'must be the key passphrase',
    },
    host: socket('a directory holding the PostgreSQL socket'),
  },
  mysql: {
    'ssl-mode': mysqlSslMode,
    sslMode: mysqlSslMode,
    ssl: boolean,
    charset: {
      read: (v) => {
        const name = typeof v === 'string' ? v.toLowerCase() : '';
        return (mysqlCharsets as readonly string[]).includes(name)
          ? { kind: 'option', name: 'charset', value: name }
          : `must be one of ${mysqlCharsets.join(', ')}`;
      },
    },
    connectTimeout: integer('connectTimeout', 1000, 60_000, 'milliseconds'),
    socketPath: socket('the MySQL socket file'),
  },
};

/** Why some refused options are refused, where "not allowed" alone would puzzle. */
const hints: Record<string, string> = {
  sslrootcert: 'give certificates as PEM text in config.tls.ca, never as a file path',
  sslcert: 'give the client certificate as PEM text in config.tls.cert, never as a file path',
  sslkey: 'give the client key as PEM text in config.tls.key, never as a file path',
  sslcrl: 'certificate revocation lists are not supported',
  user: 'put the user in the URL: postgres://user:password@host/db',
  password: 'put the password in the URL or in config.password',
  dbname: 'put the database in the URL path',
  port: 'put the port in the URL: host:port',
};

/** The allowed option names for a place (a URL, or the field form's `config.options`). */
export function allowedNames(type: ServerType, inUrl: boolean): string[] {
  return Object.entries(allowedOptions[type])
    .filter(([, rule]) => inUrl || !rule.urlOnly)
    .map(([name]) => name);
}

/**
 * Reads one option through the allow-list. `path` is the field an error names:
 * `config.url` for a URL's query, `config.options.<name>` for the field form.
 */
export function readOption(
  type: ServerType,
  name: string,
  value: OptionValue,
  place: { path: string; inUrl: boolean },
): OptionEffect {
  const rule = Object.hasOwn(allowedOptions[type], name) ? allowedOptions[type][name] : undefined;
  const prefix = place.inUrl ? `option ${name} ` : '';
  if (!rule || (rule.urlOnly && !place.inUrl)) {
    const why = rule?.urlOnly ?? (Object.hasOwn(hints, name) ? hints[name] : undefined);
    throw Invalid.field(
      place.path,
      `${prefix || `${name} `}is not allowed${why ? ` (${why})` : ''}; allowed: ${allowedNames(type, place.inUrl).join(', ')}`,
    );
  }
  const effect = rule.read(value);
  if (typeof effect === 'string') throw Invalid.field(place.path, `${prefix}${effect}`);
  return effect;
}
