import type { ResponseOf } from '../../api/client';
import type { MessageKey, Translate } from '../../i18n';

export type Destination = ResponseOf<'/api/v1/destinations/{id}', 'get'>;
export type DestinationType = Destination['type'];
export type DestinationTypeInfo = ResponseOf<'/api/v1/destination-types', 'get'>['items'][number];

export const DESTINATION_TYPES: DestinationType[] = ['email', 'webhook', 'slack', 's3', 'sftp', 'teams'];
export const destinationsKey = ['destinations'] as const;
export const destinationTypesKey = ['destination-types'] as const;

/** A type's icon: a glyph beside its name (never the only cue: the name is always written too). */
export const TYPE_ICON: Record<DestinationType, string> = {
  email: '✉',
  webhook: '⇄',
  slack: '#',
  s3: '▤',
  sftp: '⇪',
  teams: '▣',
};

export const typeLabel = (t: Translate, type: string): string => t(`destinations.type.${type}` as MessageKey);

/**
 * How a setting is edited: a line, a text, one value per line (a list), a whole
 * number, a switch, a choice, or header lines ("Name: value"). Secrets are a
 * password line, or a text (a private key), or one secret per line.
 */
export type FieldKind = 'text' | 'textarea' | 'list' | 'integer' | 'boolean' | 'choice' | 'headers';
export type SecretKind = 'password' | 'textarea' | 'list';

export interface FieldSpec {
  name: string;
  kind: FieldKind;
  /** The choices' words, by value (kind choice). */
  choices?: Record<string, MessageKey>;
  help?: MessageKey;
}
export interface SecretSpec {
  name: string;
  kind: SecretKind;
  help?: MessageKey;
}

// The settings each type's form shows, in the order a person fills them in; the
// server's JSON Schema (GET /api/v1/destination-types) says which are required.
export const SETTINGS: Record<DestinationType, FieldSpec[]> = {
  email: [
    { name: 'to', kind: 'list', help: 'destinations.help.to' },
    { name: 'cc', kind: 'list' },
    { name: 'bcc', kind: 'list' },
    { name: 'subject', kind: 'text', help: 'destinations.help.subject' },
    { name: 'text', kind: 'textarea', help: 'destinations.help.text' },
    { name: 'html', kind: 'textarea', help: 'destinations.help.html' },
    {
      name: 'attach',
      kind: 'choice',
      choices: { file: 'destinations.attach.file', link: 'destinations.attach.link' },
    },
    { name: 'maxAttachmentBytes', kind: 'integer', help: 'destinations.help.maxAttachmentBytes' },
    { name: 'zip', kind: 'boolean' },
    { name: 'smtpHost', kind: 'text', help: 'destinations.help.smtpHost' },
    { name: 'smtpPort', kind: 'integer', help: 'destinations.help.smtpPort' },
    {
      name: 'smtpSecurity',
      kind: 'choice',
      choices: {
        starttls: 'destinations.smtpSecurity.starttls',
        tls: 'destinations.smtpSecurity.tls',
        none: 'destinations.smtpSecurity.none',
      },
    },
    { name: 'smtpUser', kind: 'text' },
    { name: 'smtpFrom', kind: 'text', help: 'destinations.help.smtpFrom' },
  ],
  webhook: [
    { name: 'url', kind: 'text', help: 'destinations.help.url' },
    {
      name: 'mode',
      kind: 'choice',
      choices: { event: 'destinations.mode.event', file: 'destinations.mode.file' },
    },
    { name: 'headers', kind: 'headers', help: 'destinations.help.headers' },
  ],
  slack: [
    { name: 'channel', kind: 'text', help: 'destinations.help.channel' },
    { name: 'message', kind: 'textarea', help: 'destinations.help.message' },
    { name: 'maxUploadMb', kind: 'integer', help: 'destinations.help.maxUploadMb' },
  ],
  s3: [
    { name: 'bucket', kind: 'text' },
    { name: 'region', kind: 'text', help: 'destinations.help.region' },
    { name: 'endpoint', kind: 'text', help: 'destinations.help.endpoint' },
    { name: 'forcePathStyle', kind: 'boolean' },
    { name: 'prefix', kind: 'text', help: 'destinations.help.prefix' },
    { name: 'pathTemplate', kind: 'text', help: 'destinations.help.pathTemplate' },
    { name: 'accessKeyId', kind: 'text' },
    {
      name: 'serverSideEncryption',
      kind: 'choice',
      choices: {
        none: 'destinations.sse.none',
        AES256: 'destinations.sse.AES256',
        'aws:kms': 'destinations.sse.aws:kms',
      },
    },
    { name: 'kmsKeyId', kind: 'text', help: 'destinations.help.kmsKeyId' },
    { name: 'contentType', kind: 'text', help: 'destinations.help.contentType' },
  ],
  sftp: [
    { name: 'host', kind: 'text' },
    { name: 'port', kind: 'integer', help: 'destinations.help.port' },
    { name: 'username', kind: 'text' },
    { name: 'hostKeyFingerprint', kind: 'text', help: 'destinations.help.hostKeyFingerprint' },
    { name: 'directory', kind: 'text', help: 'destinations.help.directory' },
    { name: 'pathTemplate', kind: 'text', help: 'destinations.help.pathTemplate' },
  ],
  teams: [],
};

export const SECRETS: Record<DestinationType, SecretSpec[]> = {
  email: [{ name: 'smtpPassword', kind: 'password' }],
  webhook: [{ name: 'secrets', kind: 'list', help: 'destinations.help.secrets' }],
  slack: [{ name: 'botToken', kind: 'password', help: 'destinations.help.botToken' }],
  s3: [{ name: 'secretAccessKey', kind: 'password' }],
  sftp: [
    { name: 'password', kind: 'password', help: 'destinations.help.password' },
    { name: 'privateKey', kind: 'textarea' },
    { name: 'passphrase', kind: 'password' },
  ],
  teams: [{ name: 'url', kind: 'password', help: 'destinations.help.teamsUrl' }],
};

/** The names a type's JSON Schema requires (its `required` list). */
export function requiredOf(schema: unknown): Set<string> {
  const required = (schema as { required?: unknown } | null)?.required;
  return new Set(Array.isArray(required) ? required.map(String) : []);
}

const text = (v: unknown) => (typeof v === 'string' ? v : '');

/** "a@x.com, b@x.com", "hooks.example.com", "#C0123", "bucket/prefix", "user@host:22/dir": where it sends. */
export function targetOf(d: Pick<Destination, 'type' | 'settings'>): string {
  const s = d.settings;
  switch (d.type) {
    case 'email':
      return (Array.isArray(s['to']) ? s['to'] : []).join(', ');
    case 'webhook':
      try {
        return new URL(text(s['url'])).host;
      } catch {
        return text(s['url']);
      }
    case 'slack':
      return text(s['channel']);
    case 's3':
      return `s3://${text(s['bucket'])}/${text(s['prefix'])}`;
    case 'sftp':
      return `${text(s['username'])}@${text(s['host'])}:${String(s['port'] ?? 22)}${text(s['directory']) ? `/${text(s['directory']).replace(/^\//, '')}` : ''}`;
    default:
      return '–';
  }
}
