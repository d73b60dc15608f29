import assert from 'node:assert/strict';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import ssh2, { type ParsedKey, type SFTPWrapper } from 'ssh2';
import { deliveryContext, deliveryFile } from '../../test/helpers/delivery-context.ts';
import { Invalid } from '../lib/errors.ts';
import {
  checkSftpSecrets,
  checkSftpSettings,
  fetchHostFingerprint,
  type SftpSettings,
  sendSftp,
  testSftp,
} from './sftp.ts';
import { type DeliveryContext, DeliveryError, type DeliveryFile, type SendOptions } from './types.ts';

// A real SFTP server on 127.0.0.1: ssh2's server mode with a generated host
// key, serving the SFTP requests Ferry's upload uses out of a temporary
// folder. It records the requests it served, so tests see the .part file being
// renamed rather than guessing from the end state.

const { Server, utils } = ssh2;
const STATUS = utils.sftp.STATUS_CODE;
const USER = 'ferry';
/** A host key for tests only, with the fingerprint `ssh-keygen -lf` (OpenSSH 9.2) printed for it. */
const FIXED_HOST_KEY = {
  private: [
    '-----BEGIN OPENSSH PRIVATE KEY-----',
    'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz',
    'c2gtZWQyNTUxOQAAACDO7sqU3eJ6MWkfwFOxT7qGU0qzDwkbr4JQIxg3L+SAewAA',
    'AJhGtdFSRrXRUgAAAAtzc2gtZWQyNTUxOQAAACDO7sqU3eJ6MWkfwFOxT7qGU0qz',
    'Dwkbr4JQIxg3L+SAewAAAEAK+LFGFODRRrMa3oMKWgxL6aLliUkn8MjMnbmUy4Zg',
    'Gc7uypTd4noxaR/AU7FPuoZTSrMPCRuvglAjGDcv5IB7AAAAD2ZlcnJ5LXRlc3Qt',
    'aG9zdAECAwQFBg==',
    '-----END OPENSSH PRIVATE KEY-----',
  ].join('\n'),
  sshKeygenFingerprint: 'SHA256:fGU4y1FbBLaF2BsFNZvbJ0HzxDZ9KVu+ZnMHdxFPdiU',
};
const PASSWORD = 'correct horse';

interface PeerOptions {
  /** The server's host key (OpenSSH private key); a new ed25519 key when left out. */
  hostKey?: string;
  /** Announce and serve posix-rename@openssh.com, as OpenSSH does. */
  posixRename: boolean;
  /** Answer WRITE with FAILURE once this many bytes arrived. */
  failWritesAfter?: number;
  clientKey?: ParsedKey;
}

interface SftpPeer {
  port: number;
  root: string;
  fingerprint: string;
  ops: string[];
  close(): Promise<void>;
}

function fingerprintOf(publicBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicBlob).digest('base64').replace(/=+$/, '')}`;
}

function sshString(value: string): Buffer {
  const bytes = Buffer.from(value);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/**
 * ssh2's server mode answers INIT with a VERSION that names no extensions, so a
 * client never sends posix-rename. OpenSSH announces it: this rewrites the
 * VERSION packet of one SFTP channel to do the same.
 */
function announcePosixRename(sftp: SFTPWrapper): void {
  const internals = sftp as unknown as {
    _protocol: { channelData(id: number, data: Buffer): void };
    outgoing: { id: number };
  };
  const protocol = internals._protocol;
  const original = protocol.channelData;
  const version = Buffer.concat([
    Buffer.from([2, 0, 0, 0, 3]),
    sshString('posix-rename@openssh.com'),
    sshString('1'),
  ]);
  const packet = Buffer.concat([Buffer.alloc(4), version]);
  packet.writeUInt32BE(version.length);
  protocol.channelData = function (id: number, data: Buffer) {
    if (id === internals.outgoing.id && data.length === 9 && data[4] === 2) {
      protocol.channelData = original;
      return original.call(this, id, packet);
    }
    return original.call(this, id, data);
  };
}

function serveSftp(sftp: SFTPWrapper, root: string, ops: string[], options: PeerOptions): void {
  // The client's paths, absolute or relative, all land inside root (a chroot).
  const local = (path: string) => {
    const resolved = join(root, normalize(`/${path}`));
    assert.ok(!relative(root, resolved).startsWith('..'));
    return resolved;
  };
  const handles = new Map<number, number>();
  let nextHandle = 1;
  let bytesWritten = 0;
  const fail = (id: number, err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    sftp.status(
      id,
      code === 'ENOENT' ? STATUS.NO_SUCH_FILE : code === 'EACCES' ? STATUS.PERMISSION_DENIED : STATUS.FAILURE,
    );
  };
  const run = (id: number, op: string, work: () => void) => {
    ops.push(op);
    try {
      work();
      sftp.status(id, STATUS.OK);
    } catch (err) {
      fail(id, err);
    }
  };
  const handleOf = (handle: Buffer) => handles.get(handle.readUInt32BE(0));
  sftp.on('OPEN', (id, path, flags) => {
    ops.push(`OPEN ${path}`);
    try {
      const fd = openSync(local(path), utils.sftp.flagsToString(flags) ?? 'r');
      const handle = Buffer.alloc(4);
      handle.writeUInt32BE(nextHandle);
      handles.set(nextHandle++, fd);
      sftp.handle(id, handle);
    } catch (err) {
      fail(id, err);
    }
  });
  sftp.on('WRITE', (id, handle, offset, data) => {
    bytesWritten += data.length;
    if (options.failWritesAfter !== undefined && bytesWritten > options.failWritesAfter)
      return sftp.status(id, STATUS.FAILURE, 'disk full');
    writeSync(handleOf(handle)!, data, 0, data.length, offset);
    sftp.status(id, STATUS.OK);
  });
  sftp.on('CLOSE', (id, handle) => run(id, 'CLOSE', () => closeSync(handleOf(handle)!)));
  const stat = (id: number, path: string) => {
    try {
      const s = statSync(local(path));
      sftp.attrs(id, {
        mode: s.mode,
        uid: s.uid,
        gid: s.gid,
        size: s.size,
        atime: s.atimeMs / 1000,
        mtime: s.mtimeMs / 1000,
      });
    } catch (err) {
      fail(id, err);
    }
  };
  sftp.on('STAT', stat);
  sftp.on('LSTAT', stat);
  sftp.on('MKDIR', (id, path) => run(id, `MKDIR ${path}`, () => mkdirSync(local(path))));
  sftp.on('REMOVE', (id, path) => run(id, `REMOVE ${path}`, () => unlinkSync(local(path))));
  sftp.on('RENAME', (id, from, to) =>
    run(id, `RENAME ${from} ${to}`, () => {
      // SFTP v3 RENAME does not overwrite.
      if (existsSync(local(to))) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
      renameSync(local(from), local(to));
    }),
  );
  sftp.on('EXTENDED', (id, name, data) => {
    if (name !== 'posix-rename@openssh.com' || !options.posixRename)
      return sftp.status(id, STATUS.OP_UNSUPPORTED);
    const fromLength = data.readUInt32BE(0);
    const from = data.subarray(4, 4 + fromLength).toString();
    const to = data.subarray(8 + fromLength).toString();
    run(id, `POSIX-RENAME ${from} ${to}`, () => renameSync(local(from), local(to)));
  });
}

async function startSftpPeer(options: PeerOptions): Promise<SftpPeer> {
  const hostKey = options.hostKey ?? ed25519KeyPair().private;
  const parsedHostKey = utils.parseKey(hostKey) as ParsedKey;
  const root = mkdtempSync(join(tmpdir(), 'ferry-sftp-'));
  const ops: string[] = [];
  const server = new Server({ hostKeys: [hostKey] }, (client) => {
    client.on('error', () => {});
    // As the client does: small answers go out at once rather than waiting on Nagle's algorithm.
    (client as unknown as { setNoDelay(noDelay: boolean): void }).setNoDelay(true);
    client.on('authentication', (ctx) => {
      if (ctx.username === USER && ctx.method === 'password' && ctx.password === PASSWORD)
        return ctx.accept();
      const key = options.clientKey;
      if (ctx.username === USER && ctx.method === 'publickey' && key) {
        const offered = ctx.key.data;
        const allowed = key.getPublicSSH();
        if (
          ctx.key.algo === key.type &&
          offered.length === allowed.length &&
          timingSafeEqual(offered, allowed)
        ) {
          if (!ctx.signature) return ctx.accept();
          if (ctx.blob && key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) return ctx.accept();
        }
      }
      ctx.reject(['password', 'publickey']);
    });
    client.on('ready', () =>
      client.on('session', (acceptSession) => {
        acceptSession().on('sftp', (acceptSftp) => {
          const sftp = acceptSftp();
          if (options.posixRename) announcePosixRename(sftp);
          serveSftp(sftp, root, ops, options);
        });
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const publicBlob = parsedHostKey.getPublicSSH();
  return {
    port: (server.address() as { port: number }).port,
    root,
    fingerprint: fingerprintOf(publicBlob),
    ops,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

const fileOf = (bytes: Buffer, fileName = 'sales.csv'): DeliveryFile => deliveryFile(bytes, fileName);

function context(overrides: Partial<DeliveryContext> = {}): DeliveryContext {
  return deliveryContext(overrides);
}

// Loopback is refused by default: these tests, and only they, allow it.
const options: SendOptions = { outbound: { allowPrivate: ['127.0.0.1'], timeoutMs: 5000 } };

async function rejectionOf(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof DeliveryError, `expected a DeliveryError, got ${inspect(err)}`);
    return err;
  }
  assert.fail('expected the promise to reject');
}

async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Every file under `root`, as relative paths. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(root, join(d.parentPath, d.name)))
    .sort();
}

/**
 * An ed25519 key pair (encrypted with `passphrase` if given). ssh2's generator
 * strips leading zero bytes from the public key, so about one key in 256 comes out
 * malformed to its own parser (ssh2 issue #1513; measured: 14 of 3,000 keys; a
 * host key of the peer once failed a unit-tier run this way). Such a key
 * is made again, so a test is about Ferry's SFTP client, not that generator.
 */
function ed25519KeyPair(passphrase?: string) {
  for (;;) {
    const key = passphrase
      ? utils.generateKeyPairSync('ed25519', { passphrase, cipher: 'aes256-ctr', rounds: 2 })
      : utils.generateKeyPairSync('ed25519');
    if (
      !(
        utils.parseKey(key.private, passphrase) instanceof Error ||
        utils.parseKey(key.public) instanceof Error
      )
    )
      return key;
  }
}

describe('SFTP delivery to a local ssh2 server', () => {
  let peer: SftpPeer;
  let settings: SftpSettings;
  const clientKey = ed25519KeyPair('key secret');

  before(async () => {
    peer = await startSftpPeer({
      posixRename: true,
      clientKey: utils.parseKey(clientKey.public) as ParsedKey,
    });
    settings = {
      host: '127.0.0.1',
      port: peer.port,
      username: USER,
      hostKeyFingerprint: peer.fingerprint,
      directory: '/upload',
      pathTemplate: '{schedule}/{date:yyyy/MM/dd}/{file}',
    };
  });
  after(() => peer.close());

  test('the bytes arrive equal, under made folders, written to .part and renamed into place', async () => {
    peer.ops.length = 0;
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const receipt = await sendSftp(settings, { password: PASSWORD }, fileOf(bytes), context(), options);

    const target = '/upload/Daily/2026/03/02/sales.csv';
    assert.ok(readFileSync(join(peer.root, target)).equals(bytes), 'the file on the server equals the file');
    assert.deepEqual(filesUnder(peer.root), ['upload/Daily/2026/03/02/sales.csv'], 'no .part file is left');
    const part = '/upload/Daily/2026/03/02/.sales.csv.part';
    assert.deepEqual(
      peer.ops.filter((op) => !op.startsWith('CLOSE')),
      [
        'MKDIR /upload',
        'MKDIR /upload/Daily',
        'MKDIR /upload/Daily/2026',
        'MKDIR /upload/Daily/2026/03',
        'MKDIR /upload/Daily/2026/03/02',
        `OPEN ${part}`,
        `POSIX-RENAME ${part} ${target}`,
      ],
    );
    assert.equal(receipt.details['path'], target);
    assert.equal(receipt.details['bytes'], bytes.length);
  });

  test('a second delivery to the same path replaces the file atomically', async () => {
    const s = { ...settings, pathTemplate: 'latest/{report}.csv' };
    await sendSftp(s, { password: PASSWORD }, fileOf(Buffer.from('old\n')), context(), options);
    peer.ops.length = 0;
    await sendSftp(s, { password: PASSWORD }, fileOf(Buffer.from('new\n')), context(), options);
    assert.equal(readFileSync(join(peer.root, 'upload/latest/Sales.csv'), 'utf8'), 'new\n');
    assert.ok(peer.ops.includes('POSIX-RENAME /upload/latest/.Sales.csv.part /upload/latest/Sales.csv'));
    assert.ok(
      !peer.ops.some((op) => op.startsWith('REMOVE')),
      'posix-rename overwrites without removing first',
    );
  });

  test('a private key with its passphrase logs in', async () => {
    const bytes = randomBytes(1000);
    await sendSftp(
      { ...settings, pathTemplate: 'by-key/{file}' },
      { privateKey: clientKey.private, passphrase: 'key secret' },
      fileOf(bytes),
      context(),
      options,
    );
    assert.ok(readFileSync(join(peer.root, 'upload/by-key/sales.csv')).equals(bytes));
    assert.throws(
      () => checkSftpSecrets({ privateKey: clientKey.private }),
      (err) => err instanceof Invalid && /privateKey/.test(err.message),
    );
    assert.doesNotThrow(() => checkSftpSecrets({ privateKey: clientKey.private, passphrase: 'key secret' }));
    assert.throws(() => checkSftpSecrets({}), /password or a private key/);
  });

  test('a changed host key is refused for good, naming the key the server offered', async () => {
    const other = fingerprintOf(randomBytes(51));
    const error = await rejectionOf(
      sendSftp(
        { ...settings, hostKeyFingerprint: other },
        { password: PASSWORD },
        fileOf(Buffer.from('x')),
        context(),
        options,
      ),
    );
    assert.equal(error.retryable, false);
    assert.ok(error.message.includes(`offered the host key ssh-ed25519 ${peer.fingerprint}`), error.message);
    assert.ok(error.message.includes(`pinned ${other}`), error.message);
  });

  test('a wrong password is permanent', async () => {
    const error = await rejectionOf(
      sendSftp(settings, { password: 'wrong' }, fileOf(Buffer.from('x')), context(), options),
    );
    assert.equal(error.retryable, false);
    assert.match(error.message, /refused the login of user "ferry"/);
  });

  test('an unreachable port is retryable', async () => {
    const error = await rejectionOf(
      sendSftp(
        { ...settings, port: await closedPort() },
        { password: PASSWORD },
        fileOf(Buffer.from('x')),
        context(),
        options,
      ),
    );
    assert.equal(error.retryable, true);
    assert.match(error.message, /connection refused/);
  });

  test('a server that accepts the connection but never speaks times out, retryable', async () => {
    const silent: TcpServer = createTcpServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const error = await rejectionOf(
        sendSftp(
          { ...settings, port: (silent.address() as { port: number }).port },
          { password: PASSWORD },
          fileOf(Buffer.from('x')),
          context(),
          { outbound: { ...options.outbound, timeoutMs: 300 } },
        ),
      );
      assert.equal(error.retryable, true);
    } finally {
      silent.close();
    }
  });

  test('loopback is refused unless the operator allows it', async () => {
    for (const host of ['127.0.0.1', 'localhost']) {
      const error = await rejectionOf(
        sendSftp({ ...settings, host }, { password: PASSWORD }, fileOf(Buffer.from('x')), context(), {
          outbound: { allowPrivate: [], timeoutMs: 5000 },
        }),
      );
      assert.equal(error.retryable, false);
      assert.match(error.message, /loopback address/);
    }
  });

  test('the fingerprint shown for pinning is the one ssh-keygen prints', async () => {
    const key = await fetchHostFingerprint('127.0.0.1', peer.port, options);
    assert.equal(key.fingerprint, peer.fingerprint);
    assert.equal(key.keyType, 'ssh-ed25519');
    // A fixed key, and what `ssh-keygen -lf` printed for its public half.
    const fixed = await startSftpPeer({ posixRename: true, hostKey: FIXED_HOST_KEY.private });
    try {
      assert.deepEqual(await fetchHostFingerprint('127.0.0.1', fixed.port, options), {
        fingerprint: FIXED_HOST_KEY.sshKeygenFingerprint,
        keyType: 'ssh-ed25519',
      });
    } finally {
      await fixed.close();
    }
  });

  test('the destination test writes and removes a file', async () => {
    peer.ops.length = 0;
    const receipt = await testSftp(settings, { password: PASSWORD }, options);
    assert.match(receipt.summary, /wrote and removed \/upload\/ferry-test-[0-9a-f]{8}\.txt/);
    assert.ok(peer.ops.some((op) => /^POSIX-RENAME .*\.part \/upload\/ferry-test-/.test(op)));
    assert.ok(peer.ops.some((op) => /^REMOVE \/upload\/ferry-test-/.test(op)));
    assert.ok(!filesUnder(peer.root).some((f) => f.includes('ferry-test')));
  });

  test('settings are checked before saving', () => {
    assert.doesNotThrow(() => checkSftpSettings(settings));
    assert.throws(
      () => checkSftpSettings({ ...settings, hostKeyFingerprint: 'aa:bb:cc' }),
      /hostKeyFingerprint/,
    );
    assert.throws(
      () => checkSftpSettings({ ...settings, directory: '/srv/../etc' }),
      /directory: must not contain \.\./,
    );
    assert.throws(
      () => checkSftpSettings({ ...settings, pathTemplate: '{customer}/{file}' }),
      /pathTemplate: unknown variable \{customer\}/,
    );
  });
});

describe('SFTP delivery to a server without posix-rename', () => {
  let peer: SftpPeer;
  let settings: SftpSettings;

  before(async () => {
    peer = await startSftpPeer({ posixRename: false, failWritesAfter: 2 * 1024 * 1024 });
    settings = {
      host: '127.0.0.1',
      port: peer.port,
      username: USER,
      hostKeyFingerprint: peer.fingerprint,
      pathTemplate: 'out/{file}',
    };
  });
  after(() => peer.close());

  test('an existing file is removed, then the .part renamed over it', async () => {
    await sendSftp(settings, { password: PASSWORD }, fileOf(Buffer.from('old\n')), context(), options);
    peer.ops.length = 0;
    await sendSftp(settings, { password: PASSWORD }, fileOf(Buffer.from('new\n')), context(), options);
    assert.equal(readFileSync(join(peer.root, 'out/sales.csv'), 'utf8'), 'new\n');
    assert.deepEqual(
      peer.ops.filter((op) => op.startsWith('REMOVE') || op.startsWith('RENAME')),
      ['REMOVE out/sales.csv', 'RENAME out/.sales.csv.part out/sales.csv'],
    );
  });

  test('a failed upload removes its .part file and leaves the target alone', async () => {
    writeFileSync(join(peer.root, 'out/big.bin'), 'previous\n');
    const error = await rejectionOf(
      sendSftp(
        settings,
        { password: PASSWORD },
        fileOf(randomBytes(3 * 1024 * 1024), 'big.bin'),
        context(),
        options,
      ),
    );
    assert.equal(error.retryable, true);
    assert.match(error.message, /write out\/\.big\.bin\.part/);
    assert.ok(peer.ops.includes('REMOVE out/.big.bin.part'));
    assert.deepEqual(filesUnder(join(peer.root, 'out')), ['big.bin', 'sales.csv']);
    assert.equal(readFileSync(join(peer.root, 'out/big.bin'), 'utf8'), 'previous\n');
  });
});
