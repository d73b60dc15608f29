import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';

// Secrets at rest: AES-256-GCM with a key derived from FERRY_SECRET. The stored
// form is "v1:<iv>:<tag>:<ciphertext>" (base64url), so the scheme can change later
// without guessing what an old value is.

const VERSION = 'v1';

export interface SecretBox {
  encrypt(plain: string, context?: string): string;
  decrypt(sealed: string, context?: string): string;
  /** HMAC-SHA256 keyed by the instance secret, for tokens that must be verifiable. */
  sign(purpose: string, data: string): Buffer;
}

export function createSecretBox(secret: string): SecretBox {
  const encKey = createHmac('sha256', secret).update('ferry:encryption-key').digest();
  const macKey = createHmac('sha256', secret).update('ferry:signing-key').digest();
  return {
    encrypt(plain, context = '') {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', encKey, iv);
      // The context (e.g. "connection:<id>") is bound as additional data, so a
      // ciphertext copied into another row does not decrypt there.
      cipher.setAAD(Buffer.from(context));
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return [VERSION, iv.toString('base64url'), tag.toString('base64url'), body.toString('base64url')].join(
        ':',
      );
    },
    decrypt(sealed, context = '') {
      const [version, iv, tag, body] = sealed.split(':');
      if (version !== VERSION || !iv || !tag || body === undefined) {
        throw new Error('Unrecognised encrypted value');
      }
      const decipher = createDecipheriv('aes-256-gcm', encKey, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    },
    sign(purpose, data) {
      return createHmac('sha256', macKey).update(purpose).update('\0').update(data).digest();
    },
  };
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Constant-time string comparison (lengths are compared in constant time too). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
