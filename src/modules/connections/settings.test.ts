import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  TEST_CA,
  TEST_CLIENT_CERT,
  TEST_CLIENT_KEY,
  TEST_CLIENT_KEY_ENCRYPTED,
  TEST_KEY_PASSPHRASE,
} from '../../../test/helpers/tls.ts';
import { Invalid } from '../../lib/errors.ts';
import type { ServerType } from './driver-options.ts';
import type { StoredConfig } from './repo.ts';
import { type ConnectionInput, normalizeServerConnection, type SecretPart } from './settings.ts';

const tcpOnly = { allowSockets: false };
const sockets = { allowSockets: true };

const normalize = (
  type: ServerType,
  input: ConnectionInput,
  policy = tcpOnly,
  previous?: { config: StoredConfig; secret: SecretPart | null },
) => normalizeServerConnection(type, input, previous, policy);

/** The field error a refused input gives. */
function refusal(fn: () => unknown): { path: string; message: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof Invalid, `expected Invalid, got ${String(err)}`);
    assert.equal(err.errors?.length, 1);
    return err.errors![0]!;
  }
  assert.fail('expected the input to be refused');
}

describe('connection settings: driver options are an allow-list', () => {
  const refusedPostgres = [
    'options',
    'sslrootcert',
    'sslcert',
    'sslkey',
    'sslcrl',
    'replication',
    'client_encoding',
    'statement_timeout',
    'query_timeout',
    'target_session_attrs',
    'sslnegotiation',
    'user',
    'password',
    'dbname',
    'port',
    'fallback_application_name',
    'keepalives',
    'binary',
    '__proto__',
  ];
  for (const name of refusedPostgres) {
    test(`PostgreSQL: ?${name}= in a URL is refused by name (config.url)`, () => {
      const e = refusal(() => normalize('postgres', { url: `postgres://u:p@db.example:5432/app?${name}=x` }));
      assert.equal(e.path, 'config.url');
      assert.match(e.message, new RegExp(`^option ${name.replace(/_/g, '_')} is not allowed`));
      assert.match(e.message, /allowed: sslmode, ssl, application_name, connect_timeout, sslpassword, host$/);
    });
    test(`PostgreSQL: options.${name} in the field form is refused by name`, () => {
      const e = refusal(() =>
        normalize('postgres', {
          host: 'db.example',
          database: 'app',
          user: 'u',
          options: JSON.parse(`{"${name}": "x"}`),
        }),
      );
      assert.equal(e.path, `config.options.${name}`);
      assert.match(e.message, /is not allowed/);
      assert.match(e.message, /allowed: sslmode, ssl, application_name, connect_timeout$/);
    });
  }

  const refusedMysql: Array<[string, string]> = [
    ['multipleStatements', 'true'],
    ['debug', 'true'],
    ['trace', 'true'],
    ['flags', '%2BLOCAL_FILES'],
    ['localInfile', 'true'],
    ['infileStreamFactory', 'x'],
    ['ssl', '%7B%22rejectUnauthorized%22%3Afalse%7D'],
    ['timezone', 'local'],
    ['dateStrings', 'false'],
    ['typeCast', 'false'],
    ['supportBigNumbers', 'true'],
    ['connectAttributes', '%7B%7D'],
    ['authPlugins', 'x'],
    ['password1', 'x'],
    ['enableCleartextPlugin', 'true'],
    ['stream', 'x'],
  ];
  for (const [name, value] of refusedMysql) {
    test(`MySQL: ?${name}= in a URL is refused by name`, () => {
      const e = refusal(() => normalize('mysql', { url: `mysql://root@db.example/app?${name}=${value}` }));
      assert.equal(e.path, 'config.url');
      assert.match(e.message, new RegExp(`^option ${name} `));
      assert.match(
        e.message,
        name === 'ssl'
          ? /must be true or false \(certificates go in config.tls\)/
          : /is not allowed; allowed: ssl-mode, sslMode, ssl, charset, connectTimeout, socketPath$/,
      );
    });
  }

  test('allowed options pass, with their values checked', () => {
    const pg = normalize('postgres', {
      url: 'postgres://alice:s3cret@db.example:6543/sales?sslmode=require&application_name=Nightly%20export&connect_timeout=5',
    });
    assert.deepEqual(pg.config.options, { application_name: 'Nightly export', connect_timeout: 5 });
    assert.equal(pg.config.sslmode, 'require');
    const my = normalize('mysql', {
      url: 'mariadb://bob@db.example/shop?ssl-mode=VERIFY_IDENTITY&charset=UTF8MB4_BIN&connectTimeout=5000',
    });
    assert.deepEqual(my.config.options, { charset: 'utf8mb4_bin', connectTimeout: 5000 });
    assert.equal(my.config.sslmode, 'verify-full');
    const fields = normalize('mysql', {
      host: 'db.example',
      database: 'shop',
      user: 'bob',
      options: { sslMode: 'required', connectTimeout: 2000 },
    });
    assert.equal(fields.config.sslmode, 'require');
    assert.deepEqual(fields.config.options, { connectTimeout: 2000 });
    for (const [url, message] of [
      [
        'postgres://u@h/db?connect_timeout=0',
        /connect_timeout must be a whole number of seconds from 1 to 60/,
      ],
      ['postgres://u@h/db?connect_timeout=3600', /from 1 to 60/],
      [
        'postgres://u@h/db?sslmode=allow',
        /sslmode must be one of disable, prefer, require, verify-ca, verify-full/,
      ],
      ['postgres://u@h/db?application_name=%0Aevil', /printable ASCII/],
      ['postgres://u@h/db?sslmode=require&sslmode=disable', /sslmode is given more than once/],
      ['mysql://u@h/db?charset=latin1', /charset must be one of utf8mb4/],
      ['mysql://u@h/db?ssl-mode=SOMETIMES', /must be one of DISABLED, PREFERRED/],
    ] as const) {
      const e = refusal(() => normalize(url.startsWith('mysql') ? 'mysql' : 'postgres', { url }));
      assert.equal(e.path, 'config.url');
      assert.match(e.message, message);
    }
  });

  test('the SSL mode is stated once, or the same way everywhere', () => {
    const base = { url: 'postgres://u@h/db?sslmode=verify-full' };
    assert.equal(normalize('postgres', { ...base, ssl: true }).config.sslmode, 'verify-full');
    assert.equal(refusal(() => normalize('postgres', { ...base, ssl: false })).path, 'config.ssl');
    assert.equal(
      refusal(() => normalize('postgres', { ...base, sslmode: 'require' })).path,
      'config.sslmode',
    );
    assert.equal(normalize('postgres', { url: 'postgres://u@h/db', ssl: true }).config.sslmode, 'require');
    assert.equal(normalize('postgres', { url: 'postgres://u@h/db?ssl=true' }).config.sslmode, 'require');
    assert.equal(normalize('postgres', { url: 'postgres://u@h/db' }).config.sslmode, 'disable');
  });

  test('the URL is parsed into fields; the password and sslpassword are kept apart and never shown', () => {
    const n = normalize('postgres', {
      url: 'postgresql://al%40ice:p%40ss%3Aword@[::1]:6543/sa%20les?sslmode=require&sslpassword=open-sesame',
      tls: { cert: TEST_CLIENT_CERT, key: TEST_CLIENT_KEY_ENCRYPTED },
    });
    assert.equal(n.config.host, '::1');
    assert.equal(n.config.port, 6543);
    assert.equal(n.config.database, 'sa les');
    assert.equal(n.config.user, 'al@ice');
    assert.equal(n.config.url, 'postgresql://al%40ice@[::1]:6543/sa%20les?sslmode=require');
    assert.deepEqual(n.secret, {
      password: 'p@ss:word',
      tlsKey: TEST_CLIENT_KEY_ENCRYPTED,
      tlsPassphrase: TEST_KEY_PASSPHRASE,
    });
    assert.ok(!JSON.stringify(n.config).includes('p@ss'));
    assert.ok(!JSON.stringify(n.config).includes(TEST_KEY_PASSPHRASE));
  });

  test('an update of a URL connection that names none of its parts keeps the URL and its password', () => {
    const first = normalize('postgres', {
      url: 'postgres://alice:pw@db.example/sales?application_name=x',
      sslmode: 'require',
    });
    const previous = { config: first.config, secret: first.secret };
    const tlsOnly = normalize('postgres', { tls: { ca: TEST_CA } }, tcpOnly, previous);
    assert.equal(tlsOnly.config.url, 'postgres://alice@db.example/sales?application_name=x');
    assert.equal(tlsOnly.config.sslmode, 'require');
    assert.deepEqual(tlsOnly.secret, { password: 'pw' });
    assert.deepEqual(normalize('postgres', { password: 'new' }, tcpOnly, previous).secret, {
      password: 'new',
    });
    assert.equal(normalize('postgres', { password: null }, tcpOnly, previous).secret, null);
    assert.equal(
      refusal(() => normalize('postgres', { host: 'other', password: 'pw' }, tcpOnly, previous)).path,
      'config.database',
    );
  });

  test('a stored password is never sent to another server: moving host, port or user asks for it again', () => {
    const first = normalize('postgres', {
      host: 'db.example',
      database: 'sales',
      user: 'alice',
      password: 'pw',
    });
    const previous = { config: first.config, secret: first.secret };
    for (const [field, input] of [
      ['host', { host: 'attacker.example' }],
      ['port', { port: 6543 }],
      ['user', { user: 'mallory' }],
    ] as const) {
      const r = refusal(() => normalize('postgres', input, tcpOnly, previous));
      assert.equal(r.path, 'config.password');
      assert.match(r.message, new RegExp(`config\\.${field} changes`));
    }
    const moved = normalize('postgres', { host: 'replica.example', password: 'pw2' }, tcpOnly, previous);
    assert.deepEqual(moved.secret, { password: 'pw2' });
    // The same host, or another database on it, keeps the password.
    const same = normalize('postgres', { host: 'db.example', database: 'other' }, tcpOnly, previous);
    assert.deepEqual(same.secret, { password: 'pw' });
  });

  test('a user and a database are required: the drivers would fill in the Ferry host’s', () => {
    assert.equal(
      refusal(() => normalize('postgres', { url: 'postgres://h/db' })).message,
      'must name a user',
    );
    assert.equal(refusal(() => normalize('postgres', { host: 'h', database: 'db' })).path, 'config.user');
    assert.equal(refusal(() => normalize('mysql', { host: 'h', user: 'u' })).path, 'config.database');
  });
});

describe('connection settings: unix sockets and files on the Ferry host', () => {
  const socketInputs: Array<[ServerType, ConnectionInput, string]> = [
    ['postgres', { host: '/var/run/postgresql', database: 'db', user: 'u' }, 'config.host'],
    ['mysql', { host: '/run/mysqld/mysqld.sock', database: 'db', user: 'u' }, 'config.host'],
    ['postgres', { url: 'postgres://u@/db?host=/var/run/postgresql' }, 'config.url'],
    ['postgres', { url: 'postgres://u@%2Fvar%2Frun%2Fpostgresql/db' }, 'config.url'],
    ['mysql', { url: 'mysql://u@localhost/db?socketPath=/run/mysqld/mysqld.sock' }, 'config.url'],
  ];
  for (const [type, input, path] of socketInputs) {
    test(`${type} ${JSON.stringify(input)}: refused without FERRY_ALLOW_SOCKETS, accepted with it`, () => {
      const e = refusal(() => normalize(type, input));
      assert.equal(e.path, path);
      assert.match(e.message, /unix socket.*FERRY_ALLOW_SOCKETS=true/);
      const allowed = normalize(type, input, sockets);
      assert.match(allowed.config.host ?? '', /^\/(var\/)?run\//);
    });
  }

  test('abstract sockets and odd paths are refused even where sockets are allowed', () => {
    for (const host of ['@ferry', '/run/../etc/passwd', '/tmp/a b']) {
      const e = refusal(() => normalize('postgres', { host, database: 'db', user: 'u' }, sockets));
      assert.equal(e.path, 'config.host');
    }
    assert.equal(
      refusal(() => normalize('postgres', { host: 'h st', database: 'db', user: 'u' })).path,
      'config.host',
    );
    assert.equal(
      refusal(() =>
        normalize(
          'postgres',
          { host: 'db.example', database: 'db', user: 'u', options: { host: '/tmp' } },
          sockets,
        ),
      ).path,
      'config.options.host',
    );
  });

  test('TLS material is PEM text, never a file path', () => {
    const base = { host: 'db.example', database: 'db', user: 'u', sslmode: 'verify-full' as const };
    for (const [tls, path, message] of [
      [{ ca: '/etc/ssl/certs/ca.pem' }, 'config.tls.ca', /not a file path/],
      [{ ca: 'hello' }, 'config.tls.ca', /PEM text/],
      [{ ca: `${TEST_CA}trailing text` }, 'config.tls.ca', /only PEM blocks/],
      [{ ca: TEST_CLIENT_KEY }, 'config.tls.ca', /is a PRIVATE KEY, not a CERTIFICATE/],
      [{ ca: TEST_CA.replace(/\n.{10}/, '\nAAAAAAAAAA') }, 'config.tls.ca', /not a valid certificate/],
      [{ cert: TEST_CLIENT_CERT }, 'config.tls.key', /is required with config.tls.cert/],
      [{ cert: TEST_CLIENT_CERT, key: '~/.ssh/id_rsa' }, 'config.tls.key', /not a file path/],
      [{ cert: TEST_CLIENT_CERT, key: TEST_CA }, 'config.tls.key', /one PEM private key/],
      [{ cert: TEST_CLIENT_CERT, key: TEST_CLIENT_KEY_ENCRYPTED }, 'config.tls.passphrase', /encrypted/],
      [
        { cert: TEST_CLIENT_CERT, key: TEST_CLIENT_KEY_ENCRYPTED, passphrase: 'wrong' },
        'config.tls.passphrase',
        /does not decrypt/,
      ],
      [{ servername: 'not a host' }, 'config.tls.servername', /host name/],
    ] as const) {
      const e = refusal(() => normalize('postgres', { ...base, tls }));
      assert.equal(e.path, path, JSON.stringify(tls));
      assert.match(e.message, message);
    }
    const ok = normalize('postgres', {
      ...base,
      tls: {
        ca: TEST_CA,
        cert: TEST_CLIENT_CERT,
        key: TEST_CLIENT_KEY_ENCRYPTED,
        passphrase: TEST_KEY_PASSPHRASE,
      },
    });
    assert.deepEqual(ok.config.tls, { ca: TEST_CA, cert: TEST_CLIENT_CERT });
    assert.equal(ok.secret?.tlsKey, TEST_CLIENT_KEY_ENCRYPTED);
    assert.equal(ok.secret?.tlsPassphrase, TEST_KEY_PASSPHRASE);
  });

  test('TLS modes: verify-ca needs a CA, material needs TLS on, servername is PostgreSQL’s', () => {
    const base = { host: 'db.example', database: 'db', user: 'u' };
    assert.equal(
      refusal(() => normalize('postgres', { ...base, sslmode: 'verify-ca' })).path,
      'config.tls.ca',
    );
    assert.equal(
      refusal(() => normalize('postgres', { ...base, sslmode: 'disable', tls: { ca: TEST_CA } })).path,
      'config.tls',
    );
    assert.equal(normalize('postgres', { ...base, tls: { ca: TEST_CA } }).config.sslmode, 'require');
    assert.equal(
      refusal(() =>
        normalize('mysql', { ...base, sslmode: 'verify-full', tls: { servername: 'db.example' } }),
      ).path,
      'config.tls.servername',
    );
  });

  test('an update keeps stored TLS material and secrets unless told otherwise', () => {
    const first = normalize('postgres', {
      host: 'db.example',
      database: 'db',
      user: 'u',
      password: 'pw',
      sslmode: 'verify-full',
      tls: { ca: TEST_CA, cert: TEST_CLIENT_CERT, key: TEST_CLIENT_KEY },
    });
    const previous = { config: first.config, secret: first.secret };
    const renamed = normalize('postgres', { database: 'other' }, tcpOnly, previous);
    assert.equal(renamed.config.database, 'other');
    assert.equal(renamed.config.sslmode, 'verify-full');
    assert.deepEqual(renamed.config.tls, first.config.tls);
    assert.deepEqual(renamed.secret, first.secret);
    const noCa = normalize('postgres', { tls: { ca: null } }, tcpOnly, previous);
    assert.deepEqual(noCa.config.tls, { cert: TEST_CLIENT_CERT });
    const none = normalize('postgres', { tls: null, sslmode: 'require' }, tcpOnly, previous);
    assert.equal(none.config.tls, undefined);
    assert.deepEqual(none.secret, { password: 'pw' });
  });
});
