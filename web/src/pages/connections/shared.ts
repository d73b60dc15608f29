import type { ResponseOf } from '../../api/client';
import type { Translate } from '../../i18n';

export type Connection = ResponseOf<'/api/v1/connections/{id}', 'get'>;
export type ConnectionType = Connection['type'];

export function typeLabel(t: Translate, type: ConnectionType): string {
  switch (type) {
    case 'postgres':
      return 'PostgreSQL';
    case 'mysql':
      return 'MySQL / MariaDB';
    case 'sqlite':
      return 'SQLite';
    default:
      return t('connections.demo.type');
  }
}

/** "db.example.com:5432 / sales" or the URL without its password, the SQLite file, or the demo data. */
export function summaryOf(t: Translate, c: Connection): string {
  const config = c.config;
  if (c.type === 'demo') return t('connections.demo.summary');
  if (c.type === 'sqlite') return config.path ?? '–';
  if (config.url) return config.url;
  return `${config.host ?? '?'}:${config.port ?? ''} / ${config.database ?? '?'}`;
}
