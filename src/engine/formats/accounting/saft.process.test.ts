import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { rows, writeSaft } from '../../../../test/helpers/saft-fixture.ts';

// The SAF-T file read by another XML parser than the tests' own: libxml2's
// xmllint (Debian's libxml2-utils, installed by .ci/run).

test('libxml2 reads the SAF-T file as well-formed XML', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'saft-test-'));
  try {
    await writeFile(join(dir, 'f.xml'), await writeSaft(rows));
    const { stderr } = await promisify(execFile)('xmllint', ['--noout', join(dir, 'f.xml')]).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT')
          assert.fail('xmllint is missing: install Debian’s libxml2-utils (.ci/run does)');
        throw err;
      },
    );
    assert.equal(stderr, '');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
