import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/lib/clock.ts';
import {
  call,
  createKey,
  createTenant,
  createTestApp,
  loginCookie,
  OWNER_PASSWORD,
  type Reply,
  setupFirstTenant,
  type TenantHandle,
  type TestApp,
} from '../helpers/app.ts';
import { backends } from '../helpers/db.ts';
import { accept, invite, inviteAndAccept, tokenOf } from '../helpers/invitations.ts';
import { type ReceivedMail, type SmtpPeer, startSmtp } from '../helpers/peers/smtp.ts';

// Members join by invitation only: an admin cannot add someone else's account,
// cannot tell from the answer whether an address has an account, and the
// invitee's consent (the token from the e-mail, plus proof that the account is
// theirs) is what makes them a member.

const NEW_PASSWORD = 'a brand new password';

/** Whether the account with this e-mail belongs to the tenant (straight from the database). */
async function isMember(t: TestApp, tenantId: string, email: string): Promise<boolean> {
  const r = await t.ctx.db.query(
    'SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.tenant_id = $1 AND lower(u.email) = lower($2)',
    [tenantId, email],
  );
  return r.rows.length > 0;
}

/** The invitation e-mail the SMTP peer received for an address (sent before the 202). */
async function mailTo(smtp: SmtpPeer, address: string): Promise<ReceivedMail> {
  await smtp.waitFor(1);
  const mail = smtp.messages.findLast((m) => m.to.includes(address));
  assert.ok(mail, `no e-mail to ${address}`);
  return mail;
}

/** Every field but those that differ between any two invitations (id, address, times, link). */
function invariantPart(r: Reply) {
  const { id, email, createdAt, expiresAt, acceptUrl, ...rest } = r.body;
  return { status: r.status, keys: Object.keys(r.body).sort(), rest };
}

for (const backend of backends()) {
  describe(`invitations (${backend})`, () => {
    let t: TestApp;
    let smtp: SmtpPeer;
    let a: TenantHandle;
    let b: TenantHandle;
    before(async () => {
      smtp = await startSmtp();
      t = await createTestApp(backend, { env: smtp.env });
      a = await setupFirstTenant(t, 'owner-a@example.com');
      b = await createTenant(t, a.apiKey, 'Tenant B', 'owner-b@example.com');
    });
    after(async () => {
      await t.close();
      await smtp.close();
    });

    test("another tenant's existing account is not added without its consent", async () => {
      const r = await invite(t, a.apiKey, 'owner-b@example.com', 'viewer');
      assert.equal(r.status, 202, r.text);
      assert.equal(await isMember(t, a.tenantId, 'owner-b@example.com'), false);
      const members = await call(t, { url: '/api/v1/members', key: a.apiKey });
      assert.ok(!members.text.includes('owner-b@example.com'));
      // Not even with a password chosen by the admin, which used to create or adopt the account.
      const withPassword = await call(t, {
        method: 'POST',
        url: '/api/v1/members',
        key: a.apiKey,
        body: { email: 'owner-b@example.com', role: 'viewer', password: 'chosen-by-admin' },
      });
      assert.equal(withPassword.status, 400);
      assert.equal(withPassword.body.errors[0].path, 'password');
      assert.equal(await isMember(t, a.tenantId, 'owner-b@example.com'), false);
    });

    test('the answer is the same whether or not the address has an account', async () => {
      const known = await invite(t, a.apiKey, 'owner-b@example.com', 'editor');
      const unknown = await invite(t, a.apiKey, 'nobody-yet@example.com', 'editor');
      assert.equal(known.status, 202, known.text);
      assert.deepEqual(invariantPart(known), invariantPart(unknown));
      assert.equal(known.body.emailDelivery.status, 'sent');
      assert.equal(known.body.status, 'pending');
      for (const r of [known, unknown]) {
        assert.match(r.body.acceptUrl, /^http:\/\/localhost:\d+\/invite#token=fryinv_/);
        assert.equal(
          new Date(r.body.expiresAt).getTime() - new Date(r.body.createdAt).getTime(),
          72 * 3_600_000,
        );
      }
      // The address is shown as typed, never as the account spells it.
      const typed = await invite(t, a.apiKey, 'OWNER-B@example.com', 'viewer');
      assert.equal(typed.body.email, 'OWNER-B@example.com');
      // A password in the request is refused the same way for both.
      const send = (email: string) =>
        call(t, {
          method: 'POST',
          url: '/api/v1/members',
          key: a.apiKey,
          body: { email, role: 'viewer', password: OWNER_PASSWORD },
        });
      const [p1, p2] = [await send('owner-b@example.com'), await send('nobody-else@example.com')];
      assert.equal(p1.status, 400);
      assert.deepEqual({ ...p1.body, requestId: null }, { ...p2.body, requestId: null });
    });

    test('the invitee receives the link by e-mail and joins by accepting it', async () => {
      const r = await invite(t, a.apiKey, 'carol@example.com', 'editor', 'Carol');
      assert.equal(r.status, 202, r.text);
      const mail = await mailTo(smtp, 'carol@example.com');
      assert.match(mail.subject ?? '', /First tenant/);
      assert.ok(mail.text?.includes(r.body.acceptUrl), mail.text);
      assert.match(mail.text ?? '', /as editor/);
      assert.equal(await isMember(t, a.tenantId, 'carol@example.com'), false);

      // The page behind the link shows what the invitation is for.
      const preview = await call(t, {
        method: 'POST',
        url: '/api/v1/invitations/preview',
        body: { token: tokenOf(mail.text!.match(/https?:\/\/\S+/)![0]) },
      });
      assert.equal(preview.status, 200, preview.text);
      assert.deepEqual(
        { email: preview.body.email, role: preview.body.role, tenant: preview.body.tenant.name },
        { email: 'carol@example.com', role: 'editor', tenant: 'First tenant' },
      );

      const token = tokenOf(mail.text!.match(/https?:\/\/\S+/)![0]);
      const missing = await accept(t, { token });
      assert.equal(missing.status, 400);
      assert.equal(missing.body.errors[0].path, 'password');
      const joined = await accept(t, { token, password: NEW_PASSWORD });
      assert.equal(joined.status, 200, joined.text);
      assert.equal(joined.body.tenant.id, a.tenantId);
      assert.equal(joined.body.member.role, 'editor');
      assert.equal(joined.body.member.name, 'Carol');
      const cookie = await loginCookie(t, 'carol@example.com', NEW_PASSWORD);
      const me = await call(t, { url: '/api/v1/me', cookie });
      assert.equal(me.body.role, 'editor');
      const shown = await call(t, { url: `/api/v1/invitations/${r.body.id}`, key: a.apiKey });
      assert.equal(shown.body.status, 'accepted');
      assert.ok(!shown.text.includes(token));
    });

    test('an existing account joins with its own password, never with a wrong one', async () => {
      const r = await invite(t, a.apiKey, 'owner-b@example.com', 'viewer');
      const token = tokenOf(r.body.acceptUrl);
      const wrong = await accept(t, { token, password: 'not the password' });
      assert.equal(wrong.status, 401);
      assert.equal(await isMember(t, a.tenantId, 'owner-b@example.com'), false);
      // B's owner sees the attempt on their account.
      const seen = await call(t, { url: '/api/v1/audit?action=auth.login_failed', key: b.apiKey });
      assert.ok(seen.body.items.some((i: { details: { via?: string } }) => i.details.via === 'invitation'));
      const joined = await accept(t, { token, password: OWNER_PASSWORD });
      assert.equal(joined.status, 200, joined.text);
      assert.equal(await isMember(t, a.tenantId, 'owner-b@example.com'), true);
      // Still the same account, with its own password, in both tenants.
      const login = await call(t, {
        method: 'POST',
        url: '/api/v1/auth/login',
        body: { email: 'owner-b@example.com', password: OWNER_PASSWORD, tenantId: a.tenantId },
      });
      assert.equal(login.status, 200, login.text);
      assert.equal(login.body.role, 'viewer');
    });

    test('a token works once', async () => {
      const r = await invite(t, a.apiKey, 'once@example.com', 'viewer');
      const token = tokenOf(r.body.acceptUrl);
      // Two acceptances at the same moment: exactly one wins.
      const results = await Promise.all([
        accept(t, { token, password: NEW_PASSWORD }),
        accept(t, { token, password: NEW_PASSWORD }),
      ]);
      assert.deepEqual(
        results.map((x) => x.status).sort(),
        [200, 410],
        results.map((x) => x.text).join('\n'),
      );
      const again = await accept(t, { token, password: NEW_PASSWORD });
      assert.equal(again.status, 410);
      assert.match(again.body.detail, /already been used/);
      const unknown = await accept(t, { token: `${token.slice(0, -2)}xx`, password: NEW_PASSWORD });
      assert.equal(unknown.status, 404);
    });

    test('tokens are stored as SHA-256 only', async () => {
      const r = await invite(t, a.apiKey, 'hashed@example.com', 'viewer');
      const token = tokenOf(r.body.acceptUrl);
      const row = await t.ctx.db.query<Record<string, unknown>>('SELECT * FROM invitations WHERE id = $1', [
        r.body.id,
      ]);
      assert.equal(row.rows[0]!['token_hash'], createHash('sha256').update(token).digest('hex'));
      assert.ok(!JSON.stringify(row.rows[0]).includes(token));
      const audit = await t.ctx.db.query('SELECT details::text AS d FROM audit_log');
      assert.ok(!JSON.stringify(audit.rows).includes(token));
    });

    test('a revoked invitation is refused; a new invitation replaces the open one', async () => {
      const first = await invite(t, a.apiKey, 'dave@example.com', 'viewer');
      const second = await invite(t, a.apiKey, 'dave@example.com', 'editor');
      const replaced = await accept(t, { token: tokenOf(first.body.acceptUrl), password: NEW_PASSWORD });
      assert.equal(replaced.status, 410);
      const firstNow = await call(t, { url: `/api/v1/invitations/${first.body.id}`, key: a.apiKey });
      assert.equal(firstNow.body.revokedReason, 'superseded');

      const revoked = await call(t, {
        method: 'DELETE',
        url: `/api/v1/invitations/${second.body.id}`,
        key: a.apiKey,
      });
      assert.equal(revoked.status, 204);
      const refused = await accept(t, { token: tokenOf(second.body.acceptUrl), password: NEW_PASSWORD });
      assert.equal(refused.status, 410);
      assert.match(refused.body.detail, /withdrawn/);
      assert.equal(await isMember(t, a.tenantId, 'dave@example.com'), false);
      const pending = await call(t, { url: '/api/v1/invitations?status=pending', key: a.apiKey });
      assert.ok(!pending.body.items.some((i: { email: string }) => i.email === 'dave@example.com'));
      const gone = await call(t, { url: '/api/v1/invitations?status=revoked', key: a.apiKey });
      assert.ok(gone.body.items.some((i: { id: string }) => i.id === second.body.id));
    });

    test('signed in as another account, the invitation is refused; as the invited one, no password is needed', async () => {
      await inviteAndAccept(t, a.apiKey, 'erin@example.com', 'viewer');
      const erin = await loginCookie(t, 'erin@example.com', OWNER_PASSWORD);
      const forFrank = await invite(t, a.apiKey, 'frank@example.com', 'viewer');
      const asErin = await accept(
        t,
        { token: tokenOf(forFrank.body.acceptUrl), password: NEW_PASSWORD },
        { cookie: erin, headers: { 'x-requested-with': 'ferry' } },
      );
      assert.equal(asErin.status, 403);
      assert.match(asErin.body.detail, /another e-mail address/);
      assert.equal(await isMember(t, a.tenantId, 'frank@example.com'), false);
      assert.equal(await isMember(t, a.tenantId, 'erin@example.com'), true);

      // B's owner, signed in to B, accepts A's invitation with the session alone.
      const bOwner = await loginCookie(t, 'owner-b@example.com', OWNER_PASSWORD);
      const forB = await invite(t, b.apiKey, 'erin@example.com', 'admin');
      const token = tokenOf(forB.body.acceptUrl);
      // A cookie without X-Requested-With could come from another site: it proves nothing.
      const crossSite = await accept(t, { token }, { cookie: erin });
      assert.equal(crossSite.status, 400);
      assert.equal(await isMember(t, b.tenantId, 'erin@example.com'), false);
      const wrongSession = await accept(
        t,
        { token },
        { cookie: bOwner, headers: { 'x-requested-with': 'ferry' } },
      );
      assert.equal(wrongSession.status, 403);
      const bySession = await accept(
        t,
        { token },
        { cookie: erin, headers: { 'x-requested-with': 'ferry' } },
      );
      assert.equal(bySession.status, 200, bySession.text);
      assert.equal(bySession.body.member.role, 'admin');
      assert.equal(await isMember(t, b.tenantId, 'erin@example.com'), true);
    });

    test("another tenant's invitations are invisible: 404 by id, absent from lists", async () => {
      const r = await invite(t, a.apiKey, 'private@example.com', 'viewer');
      for (const method of ['GET', 'DELETE'] as const) {
        const other = await call(t, { method, url: `/api/v1/invitations/${r.body.id}`, key: b.apiKey });
        assert.equal(other.status, 404, `${method} ${other.text}`);
      }
      const list = await call(t, { url: '/api/v1/invitations?limit=500', key: b.apiKey });
      assert.equal(list.status, 200);
      assert.ok(!list.text.includes('private@example.com') && !list.text.includes(r.body.id));
      const own = await call(t, { url: `/api/v1/invitations/${r.body.id}`, key: a.apiKey });
      assert.equal(own.body.status, 'pending');
    });

    test('who may invite whom: no one grants more than they hold, and a withdrawn inviter voids the link', async () => {
      const adminKey = await createKey(t, a.apiKey, 'admin');
      assert.equal((await invite(t, adminKey, 'boss@example.com', 'owner')).status, 403);
      const ownerInvite = await invite(t, a.apiKey, 'boss@example.com', 'owner');
      const adminRevoke = await call(t, {
        method: 'DELETE',
        url: `/api/v1/invitations/${ownerInvite.body.id}`,
        key: adminKey,
      });
      assert.equal(adminRevoke.status, 403);
      const editorKey = await createKey(t, a.apiKey, 'editor');
      assert.equal((await invite(t, editorKey, 'x@example.com', 'viewer')).status, 403);
      assert.equal((await call(t, { url: '/api/v1/invitations', key: editorKey })).status, 403);

      // An admin invites a friend as admin, then is removed: the invitation dies with their rights.
      const admin = await inviteAndAccept(t, a.apiKey, 'temp-admin@example.com', 'admin');
      const cookie = await loginCookie(t, 'temp-admin@example.com', OWNER_PASSWORD);
      const backdoor = await call(t, {
        method: 'POST',
        url: '/api/v1/members',
        cookie,
        headers: { 'x-requested-with': 'ferry' },
        body: { email: 'friend@example.com', role: 'admin' },
      });
      assert.equal(backdoor.status, 202, backdoor.text);
      await call(t, { method: 'DELETE', url: `/api/v1/members/${admin.id}`, key: a.apiKey });
      const late = await accept(t, { token: tokenOf(backdoor.body.acceptUrl), password: NEW_PASSWORD });
      assert.equal(late.status, 410);
      assert.match(late.body.detail, /can no longer grant/);
      assert.equal(await isMember(t, a.tenantId, 'friend@example.com'), false);
    });

    test('guessing the password of the invited account revokes the invitation', async () => {
      const r = await invite(t, b.apiKey, 'owner-a@example.com', 'viewer');
      const token = tokenOf(r.body.acceptUrl);
      for (let i = 0; i < 5; i++) {
        assert.equal((await accept(t, { token, password: `guess number ${i}` })).status, 401);
      }
      const right = await accept(t, { token, password: OWNER_PASSWORD });
      assert.equal(right.status, 410);
      assert.match(right.body.detail, /too many wrong passwords/);
      assert.equal(await isMember(t, b.tenantId, 'owner-a@example.com'), false);
      const audit = await call(t, { url: '/api/v1/audit?action=member.invitation_revoked', key: b.apiKey });
      assert.ok(audit.body.items.some((i: { target: { id: string } }) => i.target.id === r.body.id));
    });

    test('invitations, acceptances and revocations are audited', async () => {
      const audit = await call(t, { url: '/api/v1/audit?action=member.*&limit=500', key: a.apiKey });
      const actions = new Set(audit.body.items.map((i: { action: string }) => i.action));
      for (const action of ['member.invited', 'member.invitation_accepted', 'member.invitation_revoked'])
        assert.ok(actions.has(action), action);
      const accepted = audit.body.items.find(
        (i: { action: string; details: { email: string } }) =>
          i.action === 'member.invitation_accepted' && i.details.email === 'carol@example.com',
      );
      assert.equal(accepted.actor.type, 'user');
      assert.equal(accepted.details.role, 'editor');
    });

    test('a mail the SMTP server refuses still leaves the link with the inviter', async () => {
      smtp.failNext(550, 'Mailbox unavailable');
      const r = await invite(t, a.apiKey, 'bounced@example.com', 'viewer');
      assert.equal(r.status, 202, r.text);
      assert.equal(r.body.emailDelivery.status, 'failed');
      assert.match(r.body.emailDelivery.error, /550/);
      const joined = await accept(t, { token: tokenOf(r.body.acceptUrl), password: NEW_PASSWORD });
      assert.equal(joined.status, 200, joined.text);
    });

    test('the link opens a page that accepts only when the invitee submits it', async () => {
      const page = await call(t, { url: '/invite' });
      assert.equal(page.status, 200);
      assert.match(String(page.headers['content-type']), /text\/html/);
      assert.match(page.text, /<script src="\/invite.js"><\/script>/);
      const script = await call(t, { url: '/invite.js' });
      assert.equal(script.status, 200);
      assert.match(script.text, /\/api\/v1\/invitations\/accept/);
    });
  });

  describe(`invitations expire (${backend})`, () => {
    let t: TestApp;
    let owner: TenantHandle;
    const clock = new ManualClock('2026-03-01T09:00:00Z');
    before(async () => {
      t = await createTestApp(backend, { clock, env: { FERRY_INVITATION_TTL_HOURS: '24' } });
      owner = await setupFirstTenant(t);
    });
    after(() => t.close());

    test('an expired token is refused; without SMTP the link is still returned', async () => {
      const r = await invite(t, owner.apiKey, 'late@example.com', 'viewer');
      assert.equal(r.status, 202, r.text);
      assert.equal(r.body.emailDelivery.status, 'not_configured');
      assert.equal(r.body.expiresAt, '2026-03-02T09:00:00.000Z');
      clock.advance(24 * 3_600_000);
      const refused = await accept(t, { token: tokenOf(r.body.acceptUrl), password: NEW_PASSWORD });
      assert.equal(refused.status, 410);
      assert.match(refused.body.detail, /expired/);
      assert.equal(await isMember(t, owner.tenantId, 'late@example.com'), false);
      const listed = await call(t, { url: '/api/v1/invitations?status=expired', key: owner.apiKey });
      assert.deepEqual(
        listed.body.items.map((i: { id: string }) => i.id),
        [r.body.id],
      );
      // A new invitation gives a fresh link.
      const again = await invite(t, owner.apiKey, 'late@example.com', 'viewer');
      const joined = await accept(t, { token: tokenOf(again.body.acceptUrl), password: NEW_PASSWORD });
      assert.equal(joined.status, 200, joined.text);
    });
  });
}
