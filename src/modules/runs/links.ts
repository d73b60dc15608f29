import type { SecretBox } from '../../lib/secrets.ts';
import { safeEqual } from '../../lib/secrets.ts';

// Signed download links: base64url("<runId>.<tenantId>.<expiresEpochSeconds>") + "." + HMAC.
// Anyone holding an unexpired, untampered link may download that run's file.

export interface LinkClaims {
  runId: string;
  tenantId: string;
  expiresAt: Date;
}

export function signLink(secrets: SecretBox, claims: LinkClaims): string {
  const payload = Buffer.from(
    `${claims.runId}.${claims.tenantId}.${Math.floor(claims.expiresAt.getTime() / 1000)}`,
  ).toString('base64url');
  const mac = secrets.sign('download-link', payload).toString('base64url');
  return `${payload}.${mac}`;
}

export type LinkCheck = { ok: true; claims: LinkClaims } | { ok: false; reason: 'invalid' | 'expired' };

export function verifyLink(secrets: SecretBox, token: string, now: Date): LinkCheck {
  const [payload, mac, extra] = token.split('.');
  if (!payload || !mac || extra !== undefined || token.length > 400) return { ok: false, reason: 'invalid' };
  if (!safeEqual(mac, secrets.sign('download-link', payload).toString('base64url')))
    return { ok: false, reason: 'invalid' };
  const [runId, tenantId, exp] = Buffer.from(payload, 'base64url').toString('utf8').split('.');
  if (!runId || !tenantId || !exp || !/^\d+$/.test(exp)) return { ok: false, reason: 'invalid' };
  const expiresAt = new Date(Number(exp) * 1000);
  if (expiresAt.getTime() <= now.getTime()) return { ok: false, reason: 'expired' };
  return { ok: true, claims: { runId, tenantId, expiresAt } };
}
