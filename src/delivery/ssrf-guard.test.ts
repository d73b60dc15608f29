import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import {
  checkUrl,
  type GuardOptions,
  MAX_REDIRECTS,
  parseRetryAfter,
  type Resolver,
  safeFetch,
} from './ssrf-guard.ts';
import { DeliveryError, type OutboundPolicy } from './types.ts';

// The guard against a real HTTP server on loopback. Every refusal test first
// makes sure the peer is reachable (so the refusal is the guard's doing, not a
// dead socket) and then that the peer saw nothing. Loopback is allow-listed
// only in the policies of the tests that need to reach the peer.

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The client's port: the same on two requests when they shared a connection. */
  clientPort: number | undefined;
}

interface Peer {
  port: number;
  received: Received[];
  close(): Promise<void>;
}

async function startPeer(
  host: string,
  answer: (req: Received, res: ServerResponse) => void = (_req, res) => res.end('ok'),
): Promise<Peer> {
  const received: Received[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk);
    const entry = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
      clientPort: req.socket.remotePort,
    };
    received.push(entry);
    answer(entry, res);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** DNS answers for made-up names, so a host name can resolve to any address offline. */
const names: Record<string, string[]> = {
  localhost: ['127.0.0.1'],
  'metadata.test': ['169.254.169.254'],
  'intranet.test': ['10.0.0.1'],
  'mixed.test': ['93.184.216.34', '10.0.0.1'],
  'public.test': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
  'mapped.test': ['::ffff:10.0.0.1'],
};
const testResolver: Resolver = async (hostname) => {
  const addresses = names[hostname];
  if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

const strict: OutboundPolicy = { allowPrivate: [], timeoutMs: 5_000 };
const loopbackAllowed: OutboundPolicy = { allowPrivate: ['127.0.0.1'], timeoutMs: 5_000 };

function options(outbound: OutboundPolicy, extra: Partial<GuardOptions> = {}): GuardOptions {
  return { outbound, resolve: testResolver, ...extra };
}

async function failureOf(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof DeliveryError, `expected a DeliveryError, got ${inspect(err)}`);
    return err;
  }
  assert.fail('expected the promise to reject');
}

describe('SSRF guard: refused addresses', () => {
  let peer: Peer;
  let peer6: Peer;
  before(async () => {
    peer = await startPeer('127.0.0.1');
    peer6 = await startPeer('::1');
  });
  after(async () => {
    await peer.close();
    await peer6.close();
  });

  test('the peers answer when loopback is allow-listed, so each refusal below is the guard', async () => {
    const v4 = await safeFetch(`http://127.0.0.1:${peer.port}/`, {}, options(loopbackAllowed));
    assert.equal(await v4.text(), 'ok');
    const v6 = await safeFetch(
      `http://[::1]:${peer6.port}/`,
      {},
      options({ ...strict, allowPrivate: ['::1'] }),
    );
    assert.equal(await v6.text(), 'ok');
    peer.received.length = 0;
    peer6.received.length = 0;
  });

  const literals: [string, RegExp][] = [
    ['127.0.0.1', /127\.0\.0\.1 is a loopback address/],
    ['[::1]', /::1 is a loopback address/],
    ['169.254.169.254', /169\.254\.169\.254 is the cloud metadata address/],
    ['10.0.0.1', /10\.0\.0\.1 is a private address/],
    ['100.64.0.1', /carrier-grade NAT/],
    ['0.0.0.0', /unspecified/],
    ['[::ffff:127.0.0.1]', /::ffff:7f00:1 is an IPv4-mapped address of 127\.0\.0\.1, a loopback address/],
    ['[::ffff:169.254.169.254]', /IPv4-mapped address of 169\.254\.169\.254, the cloud metadata address/],
    ['[64:ff9b::a00:1]', /NAT64/],
    ['[2002:a00:1::]', /6to4/],
    ['[fd00:ec2::254]', /unique local/],
    ['[fe80::1]', /link-local/],
    ['0x7f.1', /127\.0\.0\.1 is a loopback address/],
    ['2130706433', /127\.0\.0\.1 is a loopback address/],
  ];
  for (const [host, reason] of literals) {
    test(`an IP-literal URL to ${host} is refused, permanently, before any connection`, async () => {
      const port = host.includes(':') ? peer6.port : peer.port;
      const failure = await failureOf(safeFetch(`http://${host}:${port}/`, {}, options(strict)));
      assert.match(failure.message, reason);
      assert.equal(failure.retryable, false);
      assert.equal(peer.received.length + peer6.received.length, 0);
    });
  }

  test('a host name resolving to loopback (localhost via the system resolver) is refused', async () => {
    const failure = await failureOf(safeFetch(`http://localhost:${peer.port}/`, {}, { outbound: strict }));
    assert.match(failure.message, /^localhost: resolves to (127\.0\.0\.1|::1), a loopback address$/);
    assert.equal(failure.retryable, false);
    assert.equal(peer.received.length, 0);
  });

  test('host names resolving to the metadata address or a private address are refused', async () => {
    const metadata = await failureOf(
      safeFetch('http://metadata.test/latest/meta-data/', {}, options(strict)),
    );
    assert.equal(metadata.message, 'metadata.test: resolves to 169.254.169.254, the cloud metadata address');
    const intranet = await failureOf(safeFetch('http://intranet.test/', {}, options(strict)));
    assert.equal(intranet.message, 'intranet.test: resolves to 10.0.0.1, a private address');
    assert.equal(intranet.retryable, false);
  });

  test('one private address among public ones refuses the host', async () => {
    const failure = await failureOf(checkUrl('https://mixed.test/hook', strict, testResolver));
    assert.equal(failure.message, 'mixed.test: resolves to 10.0.0.1, a private address');
  });

  test('checkUrl passes a public host and lists its addresses', async () => {
    const checked = await checkUrl('https://public.test/hook', strict, testResolver);
    assert.deepEqual(checked.addresses, names['public.test']);
    assert.equal(checked.url.hostname, 'public.test');
  });

  test('an IPv4-mapped address is judged by its IPv4 address: a public one passes', async () => {
    const literal = await checkUrl('https://[::ffff:93.184.216.34]/hook', strict, testResolver);
    assert.deepEqual(literal.addresses, ['::ffff:5db8:d822']);
    const failure = await failureOf(checkUrl('https://mapped.test/hook', strict, testResolver));
    assert.equal(
      failure.message,
      'mapped.test: resolves to ::ffff:10.0.0.1, an IPv4-mapped address of 10.0.0.1, a private address',
    );
    assert.equal(failure.retryable, false);
  });

  test('only http and https, and no user name or password in the URL', async () => {
    for (const url of ['ftp://public.test/x', 'file:///etc/passwd', 'gopher://public.test/']) {
      const failure = await failureOf(checkUrl(url, strict, testResolver));
      assert.match(failure.message, /only http and https URLs are allowed/);
      assert.equal(failure.retryable, false);
    }
    const userinfo = await failureOf(checkUrl('https://user:secret@public.test/', strict, testResolver));
    assert.match(userinfo.message, /holds a user name or password/);
    assert.doesNotMatch(userinfo.message, /secret/);
    const invalid = await failureOf(checkUrl('not a url', strict, testResolver));
    assert.equal(invalid.message, 'Not a valid URL');
  });

  test('a host name that does not resolve is a retryable failure', async () => {
    const failure = await failureOf(safeFetch('https://nowhere.test/', {}, options(strict)));
    assert.equal(failure.message, 'Cannot resolve nowhere.test (ENOTFOUND)');
    assert.equal(failure.retryable, true);
    const unchecked = await failureOf(checkUrl('https://nowhere.test/', strict, testResolver));
    assert.equal(unchecked.retryable, true);
  });
});

describe('SSRF guard: allow-list', () => {
  let peer: Peer;
  before(async () => {
    peer = await startPeer('127.0.0.1');
  });
  after(() => peer.close());

  for (const entry of ['127.0.0.1', '127.0.0.0/8', 'localhost', 'LOCALHOST.']) {
    test(`allowPrivate "${entry}" lets http://localhost reach the peer`, async () => {
      const policy = { ...strict, allowPrivate: [entry] };
      const response = await safeFetch(`http://localhost:${peer.port}/allowed`, {}, options(policy));
      assert.equal(response.status, 200);
      assert.equal(await response.text(), 'ok');
    });
  }

  test('a host is resolved once per request and the socket connects to the checked address', async () => {
    // A rebinding resolver: the first answer passes the check, any later one would not.
    const answers = ['127.0.0.1', '10.0.0.1'];
    let calls = 0;
    const rebinding: Resolver = async () => [{ address: answers[calls++] ?? '10.0.0.1', family: 4 }];
    const response = await safeFetch(
      `http://rebind.test:${peer.port}/`,
      {},
      { outbound: loopbackAllowed, resolve: rebinding },
    );
    assert.equal(await response.text(), 'ok');
    assert.equal(calls, 1);
  });

  test('requests under equal rules share connections, though each comes with a policy object of its own', async () => {
    peer.received.length = 0;
    const reuse: Resolver = async () => [{ address: '127.0.0.1', family: 4 }];
    const requests = 6;
    for (let i = 0; i < requests; i++) {
      const policy = { ...strict, allowPrivate: ['reuse.test'] };
      const response = await safeFetch(
        `http://reuse.test:${peer.port}/`,
        {},
        { outbound: policy, resolve: reuse },
      );
      await response.text();
    }
    const connections = new Set(peer.received.map((r) => r.clientPort));
    assert.equal(peer.received.length, requests);
    // undici may open a second connection while the first is being released; not one per request.
    assert.ok(connections.size <= 2, `${connections.size} connections for ${requests} requests`);
  });

  test('allow-listing one private range does not open another', async () => {
    const policy = { ...strict, allowPrivate: ['127.0.0.0/8'] };
    const failure = await failureOf(safeFetch('http://intranet.test/', {}, options(policy)));
    assert.match(failure.message, /10\.0\.0\.1, a private address/);
  });

  test('allow-listing 127.0.0.1 also covers its IPv4-mapped form', async () => {
    const checked = await checkUrl('http://[::ffff:127.0.0.1]/', loopbackAllowed, testResolver);
    assert.deepEqual(checked.addresses, ['::ffff:7f00:1']);
  });
});

describe('SSRF guard: redirects', () => {
  let peer: Peer;
  before(async () => {
    peer = await startPeer('127.0.0.1', (req, res) => {
      const [path, query] = req.path.split('?');
      const target = new URLSearchParams(query).get('to');
      if (path === '/redirect' && target) {
        res.writeHead(Number(new URLSearchParams(query).get('status') ?? 302), { location: target }).end();
      } else if (path?.startsWith('/chain/')) {
        const left = Number(path.slice('/chain/'.length));
        if (left === 0) res.end('end of chain');
        else res.writeHead(307, { location: `/chain/${left - 1}` }).end();
      } else res.end(`${req.method} ${path} ${req.body}`);
    });
  });
  after(() => peer.close());

  const allowLocalhostOnly: OutboundPolicy = { ...strict, allowPrivate: ['localhost'] };

  function redirectUrl(to: string, status = 302): string {
    return `http://localhost:${peer.port}/redirect?status=${status}&to=${encodeURIComponent(to)}`;
  }

  test('a redirect from an allowed host to a refused address is refused at the hop', async () => {
    peer.received.length = 0;
    const failure = await failureOf(
      safeFetch(redirectUrl(`http://127.0.0.1:${peer.port}/inner`), {}, options(allowLocalhostOnly)),
    );
    assert.match(failure.message, /^After 1 redirect: 127\.0\.0\.1:\d+: 127\.0\.0\.1 is a loopback address$/);
    assert.equal(failure.retryable, false);
    assert.deepEqual(
      peer.received.map((r) => r.path.split('?')[0]),
      ['/redirect'],
    );
  });

  test('a redirect to a host name resolving to the metadata address is refused', async () => {
    const failure = await failureOf(
      safeFetch(redirectUrl('http://metadata.test/latest/'), {}, options(allowLocalhostOnly)),
    );
    assert.match(
      failure.message,
      /metadata\.test: resolves to 169\.254\.169\.254, the cloud metadata address/,
    );
    assert.equal(failure.retryable, false);
  });

  test('a redirect to another scheme is refused', async () => {
    const failure = await failureOf(
      safeFetch(redirectUrl('file:///etc/passwd'), {}, options(allowLocalhostOnly)),
    );
    assert.match(failure.message, /only http and https/);
  });

  test(`${MAX_REDIRECTS} redirects are followed, one more is refused`, async () => {
    const ok = await safeFetch(
      `http://localhost:${peer.port}/chain/${MAX_REDIRECTS}`,
      {},
      options(allowLocalhostOnly),
    );
    assert.equal(await ok.text(), 'end of chain');
    const tooMany = `http://localhost:${peer.port}/chain/${MAX_REDIRECTS + 1}`;
    const failure = await failureOf(safeFetch(tooMany, {}, options(allowLocalhostOnly)));
    assert.match(failure.message, /beyond the limit/);
    assert.equal(failure.retryable, false);
  });

  test('a POST is repeated with its body on 307, and not turned into a GET on 302', async () => {
    const post = { method: 'POST', body: () => 'payload' };
    const kept = await safeFetch(redirectUrl('/echo', 307), post, options(allowLocalhostOnly));
    assert.equal(await kept.text(), 'POST /echo payload');
    const notFollowed = await safeFetch(redirectUrl('/echo', 302), post, options(allowLocalhostOnly));
    assert.equal(notFollowed.status, 302);
    await notFollowed.body?.cancel();
  });

  test('credentials are not carried to another origin', async () => {
    peer.received.length = 0;
    const policy = { ...strict, allowPrivate: ['localhost', '127.0.0.1'] };
    const request = { headers: { authorization: 'Bearer t0ken', 'x-other': 'kept' } };
    const response = await safeFetch(
      redirectUrl(`http://127.0.0.1:${peer.port}/echo`),
      request,
      options(policy),
    );
    await response.text();
    const [first, second] = peer.received;
    assert.equal(first?.headers['authorization'], 'Bearer t0ken');
    assert.equal(second?.headers['authorization'], undefined);
    assert.equal(second?.headers['x-other'], 'kept');
  });
});

describe('SSRF guard: time limit, connection failures, abort', () => {
  let silent: Peer;
  before(async () => {
    // Reads the request and never answers.
    silent = await startPeer('127.0.0.1', () => {});
  });
  after(() => silent.close());

  test('a receiver that never answers fails retryably once the policy time limit passes', async () => {
    const policy = { allowPrivate: ['127.0.0.1'], timeoutMs: 300 };
    const failure = await failureOf(safeFetch(`http://127.0.0.1:${silent.port}/`, {}, options(policy)));
    assert.equal(failure.message, `127.0.0.1:${silent.port} did not answer within 0.3 s`);
    assert.equal(failure.retryable, true);
  });

  test('a refused connection is retryable', async () => {
    const closed = await startPeer('127.0.0.1');
    await closed.close();
    const failure = await failureOf(
      safeFetch(`http://127.0.0.1:${closed.port}/`, {}, options(loopbackAllowed)),
    );
    assert.equal(failure.message, `Cannot connect to 127.0.0.1:${closed.port}: connection refused`);
    assert.equal(failure.retryable, true);
  });

  test("the caller's abort ends the request with the caller's reason", async () => {
    const controller = new AbortController();
    const reason = new Error('worker shutting down');
    const pending = safeFetch(
      `http://127.0.0.1:${silent.port}/`,
      {},
      options(loopbackAllowed, { signal: controller.signal }),
    );
    setImmediate(() => controller.abort(reason));
    await assert.rejects(pending, (err) => err === reason);
  });
});

test('Retry-After as seconds or as an HTTP date', () => {
  const now = Date.parse('2026-05-04T08:00:00Z');
  assert.equal(parseRetryAfter('120', now), 120_000);
  assert.equal(parseRetryAfter('Mon, 04 May 2026 08:00:30 GMT', now), 30_000);
  assert.equal(parseRetryAfter('Mon, 04 May 2026 07:00:00 GMT', now), 0);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
});
