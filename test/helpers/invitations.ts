import { call, OWNER_PASSWORD, type Reply, type TestApp } from './app.ts';

// Members join by invitation: POST /api/v1/members invites, the invitee accepts
// with the token from the link.

/** The token in an invitation link (`.../invite#token=...`). */
export function tokenOf(acceptUrl: string): string {
  const token = new URLSearchParams(new URL(acceptUrl).hash.slice(1)).get('token');
  if (!token) throw new Error(`no token in ${acceptUrl}`);
  return token;
}

export function invite(t: TestApp, key: string, email: string, role: string, name?: string): Promise<Reply> {
  return call(t, {
    method: 'POST',
    url: '/api/v1/members',
    key,
    body: { email, role, ...(name === undefined ? {} : { name }) },
  });
}

export function accept(
  t: TestApp,
  body: { token: string; password?: string; name?: string },
  extra: { cookie?: string; headers?: Record<string, string>; remoteAddress?: string } = {},
): Promise<Reply> {
  return call(t, { method: 'POST', url: '/api/v1/invitations/accept', body, ...extra });
}

/**
 * Invites the address and accepts as its owner: a new account gets `password`,
 * an existing one proves itself with it. Returns the member (the user id is `id`).
 */
export async function inviteAndAccept(
  t: TestApp,
  key: string,
  email: string,
  role: string,
  password = OWNER_PASSWORD,
): Promise<{ id: string; email: string; role: string }> {
  const invited = await invite(t, key, email, role);
  if (invited.status !== 202) throw new Error(`invitation failed: ${invited.status} ${invited.text}`);
  const accepted = await accept(t, { token: tokenOf(invited.body.acceptUrl), password });
  if (accepted.status !== 200) throw new Error(`acceptance failed: ${accepted.status} ${accepted.text}`);
  return accepted.body.member;
}
