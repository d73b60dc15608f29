import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type GrantLine, mysqlPrivilegeWarnings, parseGrant } from './mysql-privileges.ts';

// SHOW GRANTS lines as MariaDB and MySQL print them; the live servers are in
// test/integration/connections.test.ts.

const report = (...lines: string[]) =>
  mysqlPrivilegeWarnings(
    lines.map((l) => parseGrant(l)).filter((g): g is GrantLine => g !== null && !('roles' in g)),
  );

test('SHOW GRANTS: MariaDB root (ALL PRIVILEGES ON *.*) is an administrator account with FILE and SUPER', () => {
  const r = report(
    "GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` IDENTIFIED VIA mysql_native_password USING 'invalid' OR unix_socket WITH GRANT OPTION",
    "GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION",
  );
  assert.equal(r.isSuperuser, true);
  assert.ok(r.warnings.some((w) => w.startsWith('has ALL PRIVILEGES ON *.*')));
  assert.ok(r.warnings.some((w) => w.startsWith('has FILE')));
  assert.ok(r.warnings.some((w) => w.startsWith('has SUPER')));
  assert.ok(r.warnings.some((w) => w.includes('PROXY')));
  assert.ok(!r.warnings.join('\n').includes('invalid'), 'nothing of the IDENTIFIED part is repeated');
});

test('SHOW GRANTS: MySQL 8 root lists its privileges one by one; SUPER makes it an administrator', () => {
  const r = report(
    'GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, SHUTDOWN, PROCESS, FILE, REFERENCES, INDEX, ALTER, SHOW DATABASES, SUPER, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, REPLICATION SLAVE, REPLICATION CLIENT, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, CREATE USER, EVENT, TRIGGER, CREATE TABLESPACE, CREATE ROLE, DROP ROLE ON *.* TO `root`@`localhost` WITH GRANT OPTION',
    'GRANT APPLICATION_PASSWORD_ADMIN,AUDIT_ADMIN,BACKUP_ADMIN,SYSTEM_VARIABLES_ADMIN ON *.* TO `root`@`localhost` WITH GRANT OPTION',
  );
  assert.equal(r.isSuperuser, true);
  assert.ok(
    r.warnings.some((w) => /^can change data or tables \(INSERT, UPDATE, DELETE, CREATE, DROP/.test(w)),
  );
  assert.ok(r.warnings.some((w) => w.includes('SYSTEM_VARIABLES_ADMIN')));
  assert.ok(r.warnings.some((w) => w.startsWith('has FILE')));
});

test('SHOW GRANTS: a user with SELECT (and column SELECT) only has no warning', () => {
  const r = report(
    "GRANT USAGE ON *.* TO `reader`@`%` IDENTIFIED BY PASSWORD '*ABC'",
    'GRANT SELECT, SHOW VIEW ON `shop`.* TO `reader`@`%`',
    'GRANT SELECT (`id`, `name`) ON `shop`.`customers` TO `reader`@`%`',
  );
  assert.deepEqual(r, { isSuperuser: false, warnings: [] });
});

test('SHOW GRANTS: write and FILE privileges are named with their target', () => {
  const r = report(
    'GRANT FILE ON *.* TO `etl`@`%`',
    'GRANT SELECT, INSERT, UPDATE (`note`) ON `shop`.`orders` TO `etl`@`%`',
    'GRANT ALL PRIVILEGES ON `scratch`.* TO `etl`@`%` WITH GRANT OPTION',
  );
  assert.equal(r.isSuperuser, false);
  assert.deepEqual(r.warnings, [
    'can change data or tables (INSERT, UPDATE) on `shop`.`orders`',
    'has ALL PRIVILEGES on `scratch`.*: can change data and tables there',
    'can grant its privileges on `scratch`.* to others (WITH GRANT OPTION)',
    'has FILE: can read and write files on the database server',
  ]);
});

test('SHOW GRANTS: role grants are recognised (and followed by the check)', () => {
  assert.deepEqual(parseGrant('GRANT `analyst`@`%`,`etl`@`%` TO `u`@`%`'), {
    roles: ['`analyst`@`%`', '`etl`@`%`'],
  });
  assert.deepEqual(parseGrant('GRANT `analyst` TO `u`@`%`'), { roles: ['`analyst`'] });
  assert.equal(parseGrant('SET DEFAULT ROLE `analyst` FOR `u`@`%`'), null);
});
