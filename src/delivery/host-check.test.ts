import assert from 'node:assert/strict';
import { Agent, createServer, get } from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  checkedLookup,
  isHostAllowListed,
  type Resolver,
  refusalOf,
  resolveCheckedHost,
} from './host-check.ts';
import { DeliveryError, type OutboundPolicy } from './types.ts';

// Tenant-given hosts (SFTP servers, S3 endpoints) must not reach Ferry's own
// network unless the operator allows it.

const strict: OutboundPolicy = { allowPrivate: [], timeoutMs: 5000 };

describe('outbound host check', () => {
  test('loopback, private, link-local, CGNAT and IPv6 special addresses are refused; public ones pass', () => {
    const cases: [string, RegExp | null][] = [
      ['127.0.0.1', /loopback/],
      ['10.0.0.1', /private/],
      ['192.168.1.20', /private/],
      ['172.16.5.4', /private/],
      ['169.254.169.254', /cloud metadata/],
      ['169.254.10.1', /link-local/],
      ['100.64.0.1', /carrier-grade NAT/],
      ['0.0.0.0', /unspecified/],
      ['::1', /loopback/],
      ['fd00::1', /unique local/],
      ['fe80::1', /link-local/],
      ['::ffff:127.0.0.1', /^an IPv4-mapped address of 127\.0\.0\.1, a loopback address$/],
      ['::ffff:10.0.0.1', /^an IPv4-mapped address of 10\.0\.0\.1, a private address$/],
      ['::ffff:169.254.169.254', /IPv4-mapped address of 169\.254\.169\.254, the cloud metadata address/],
      ['::ffff:93.184.216.34', null],
      ['::ffff:0:7f00:1', /IPv4-translated/],
      ['64:ff9b::7f00:1', /NAT64/],
      ['93.184.216.34', null],
      ['2606:4700:4700::1111', null],
    ];
    for (const [address, expected] of cases) {
      const reason = refusalOf(address, address, strict);
      if (expected === null) assert.equal(reason, null, address);
      else assert.match(reason ?? 'allowed', expected, address);
    }
  });

  const policy = (allowPrivate: string[]): OutboundPolicy => ({ allowPrivate, timeoutMs: 5000 });

  test('the operator allows addresses, ranges or host names', () => {
    assert.equal(refusalOf('10.1.2.3', '10.1.2.3', policy(['10.0.0.0/8'])), null);
    assert.equal(refusalOf('sftp.internal', '192.168.1.5', policy(['SFTP.internal'])), null);
    assert.equal(refusalOf('127.0.0.1', '127.0.0.1', policy(['127.0.0.1'])), null);
    // The IPv4-mapped form reaches the same host: allowing one allows the other.
    assert.equal(refusalOf('::ffff:127.0.0.1', '::ffff:127.0.0.1', policy(['127.0.0.1'])), null);
    assert.match(refusalOf('10.1.2.3', '10.1.2.3', policy(['10.0.0.1', 'other.internal'])) ?? '', /private/);
    // A host name entry is matched exactly: not its sub-domains, not a name that merely ends with it.
    assert.match(refusalOf('a.sftp.internal', '192.168.1.5', policy(['sftp.internal'])) ?? '', /private/);
    assert.match(refusalOf('xsftp.internal', '192.168.1.5', policy(['sftp.internal'])) ?? '', /private/);
  });

  test('whether a host itself is allow-listed: by exact name, or as an IP literal within an entry', () => {
    const allow = policy(['Hooks.Internal.', '10.0.0.0/8', '::1', '127.0.0.1']);
    assert.equal(isHostAllowListed('hooks.internal', allow), true);
    assert.equal(isHostAllowListed('[::1]', allow), true);
    assert.equal(isHostAllowListed('10.20.30.40', allow), true);
    assert.equal(isHostAllowListed('::ffff:127.0.0.1', allow), true);
    assert.equal(isHostAllowListed('sub.hooks.internal', allow), false);
    assert.equal(isHostAllowListed('127.0.0.2', allow), false);
    assert.equal(isHostAllowListed('11.0.0.1', allow), false);
  });

  test('a name is checked by every address it resolves to', async () => {
    await assert.rejects(resolveCheckedHost('localhost', strict), (err) => {
      assert.ok(err instanceof DeliveryError);
      assert.equal(err.retryable, false);
      assert.match(err.message, /^localhost: resolves to (127\.0\.0\.1|::1), a loopback address$/);
      return true;
    });
    const allowed = await resolveCheckedHost('localhost', { allowPrivate: ['localhost'], timeoutMs: 5000 });
    assert.ok(allowed.length > 0);
    assert.deepEqual(await resolveCheckedHost('[::1]', { allowPrivate: ['::1'], timeoutMs: 5000 }), [
      { address: '::1', family: 6 },
    ]);
  });

  test('an IP literal is checked as it is, without DNS', async () => {
    await assert.rejects(resolveCheckedHost('[::ffff:10.0.0.1]', strict), (err) => {
      assert.ok(err instanceof DeliveryError);
      assert.equal(err.retryable, false);
      assert.equal(err.message, '::ffff:10.0.0.1 is an IPv4-mapped address of 10.0.0.1, a private address');
      return true;
    });
    assert.deepEqual(await resolveCheckedHost('::ffff:93.184.216.34', strict), [
      { address: '::ffff:93.184.216.34', family: 6 },
    ]);
  });

  test('a name resolving to an IPv4-mapped address is judged by the IPv4 address', async () => {
    const mapped: Resolver = async (name) => [
      { address: name === 'public.test' ? '::ffff:93.184.216.34' : '::ffff:127.0.0.1', family: 6 },
    ];
    assert.equal((await resolveCheckedHost('public.test', strict, mapped)).length, 1);
    await assert.rejects(
      resolveCheckedHost('loop.test', strict, mapped),
      /^DeliveryError: loop\.test: resolves to ::ffff:127\.0\.0\.1, an IPv4-mapped address of 127\.0\.0\.1, a loopback address$/,
    );
    assert.equal((await resolveCheckedHost('loop.test', policy(['127.0.0.1']), mapped)).length, 1);
  });

  test('a name that does not resolve, for whatever reason, is a retryable failure', async () => {
    const failing =
      (code: string): Resolver =>
      async (name) => {
        throw Object.assign(new Error(`getaddrinfo ${code} ${name}`), { code });
      };
    for (const code of ['ENOTFOUND', 'EAI_AGAIN', 'ESERVFAIL']) {
      await assert.rejects(resolveCheckedHost('gone.test', strict, failing(code)), (err) => {
        assert.ok(err instanceof DeliveryError);
        assert.equal(err.message, `Cannot resolve gone.test (${code})`);
        assert.equal(err.retryable, true, code);
        return true;
      });
    }
    const none: Resolver = async () => [];
    await assert.rejects(resolveCheckedHost('empty.test', strict, none), (err) => {
      assert.ok(err instanceof DeliveryError);
      assert.equal(err.retryable, true);
      return true;
    });
    const silent: Resolver = () => new Promise(() => {});
    await assert.rejects(
      resolveCheckedHost('slow.test', { allowPrivate: [], timeoutMs: 50 }, silent),
      (err) => {
        assert.ok(err instanceof DeliveryError);
        assert.equal(err.message, 'Cannot resolve slow.test (no answer within 0.05 s)');
        assert.equal(err.retryable, true);
        return true;
      },
    );
  });

  describe('as the lookup of an HTTP agent', () => {
    const server = createServer((_req, res) => res.end('reached'));
    let port: number;
    before(async () => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
    });
    after(() => server.close());

    const fetchVia = (policy: OutboundPolicy) =>
      new Promise<string>((resolve, reject) => {
        const agent = new Agent({ lookup: checkedLookup(policy) });
        get({ host: 'localhost', port, path: '/', agent, family: 4 }, (res) => {
          let body = '';
          res.on('data', (chunk) => {
            body += chunk;
          });
          res.on('end', () => resolve(body));
        }).on('error', reject);
      });

    test('the connection never opens to a refused address', async () => {
      await assert.rejects(
        fetchVia(strict),
        (err) => err instanceof DeliveryError && /loopback/.test(err.message),
      );
    });

    test('an allowed address connects', async () => {
      assert.equal(await fetchVia({ allowPrivate: ['127.0.0.0/8'], timeoutMs: 5000 }), 'reached');
    });
  });
});
