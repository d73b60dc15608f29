import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

// scrypt from node:crypto. Stored as "scrypt$N$r$p$salt$hash" so parameters can be
// raised later and old hashes still verify.
const N = 16384;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;
const MAX_MEM = 64 * 1024 * 1024;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, { N: n, r, p, maxmem: MAX_MEM }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, N, R, P);
  return ['scrypt', N, R, P, salt.toString('base64url'), key.toString('base64url')].join('$');
}

// A real hash (current parameters) of a random password nobody kept: verifying
// against it costs the same as a real check, so an unknown e-mail takes as long to
// reject as a wrong password. It never grants anything (see `stored !== null`
// below). Fixed here rather than made at start: that cost every process that
// loads this module ~75 ms of CPU, whether or not anyone signed in.
export const DUMMY_HASH =
  'scrypt$16384$8$1$-mJ_YusNCjkojZP3S8rveg$GbfcfwuOQYz7MiANertlH83I4FuThqo8_5a3v_luyWQ';

export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  const target = stored ?? DUMMY_HASH;
  const [scheme, n, r, p, salt, hash] = target.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await derive(password, Buffer.from(salt, 'base64url'), Number(n), Number(r), Number(p));
  const matches = actual.length === expected.length && timingSafeEqual(actual, expected);
  return matches && stored !== null;
}
