import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  call,
  createKey,
  createTenant,
  createTestApp,
  loginCookie,
  OWNER_PASSWORD,
  setupFirstTenant,
  type TenantHandle,
  type TestApp,
} from '../helpers/app.ts';
import { backends } from '../helpers/db.ts';
import { invite, inviteAndAccept } from '../helpers/invitations.ts';

for (const backend of backends()) {
  describe(`members and tenants (${backend})`, () => {
    let t: TestApp;
    let owner: TenantHandle;
    before(async () => {
      t = await createTestApp(backend);
      owner = await setupFirstTenant(t);
    });
    after(() => t.close());

    test('an invited member joins with a role and can sign in; inviting a member again conflicts', async () => {
      const member = await inviteAndAccept(t, owner.apiKey, 'ed@example.com', 'editor', OWNER_PASSWORD);
      assert.equal(member.role, 'editor');
      const shown = await call(t, { url: `/api/v1/members/${member.id}`, key: owner.apiKey });
      assert.equal(shown.body.hasPassword, true);
      assert.ok(!('password' in shown.body) && !shown.text.includes('scrypt'));
      const cookie = await loginCookie(t, 'ed@example.com', OWNER_PASSWORD);
      assert.equal((await call(t, { url: '/api/v1/me', cookie })).body.role, 'editor');
      const again = await invite(t, owner.apiKey, 'ED@example.com', 'viewer');
      assert.equal(again.status, 409);
      assert.match(again.body.detail, /already a member/);
    });

    test('change a role; an admin can neither grant owner nor touch an owner', async () => {
      const viewer = await inviteAndAccept(t, owner.apiKey, 'v@example.com', 'viewer');
      const patched = await call(t, {
        method: 'PATCH',
        url: `/api/v1/members/${viewer.id}`,
        key: owner.apiKey,
        body: { role: 'admin' },
      });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.role, 'admin');
      const adminKey = await createKey(t, owner.apiKey, 'admin');
      const grantOwner = await call(t, {
        method: 'PATCH',
        url: `/api/v1/members/${viewer.id}`,
        key: adminKey,
        body: { role: 'owner' },
      });
      assert.equal(grantOwner.status, 403);
      assert.equal(grantOwner.body.detail, 'An admin cannot grant the role owner');
      const touchOwner = await call(t, {
        method: 'PATCH',
        url: `/api/v1/members/${owner.userId}`,
        key: adminKey,
        body: { role: 'viewer' },
      });
      assert.equal(touchOwner.status, 403);
      assert.equal((await invite(t, adminKey, 'o2@example.com', 'owner')).status, 403);
    });

    test('the last owner can be neither demoted nor removed; with two owners one can go', async () => {
      const demote = await call(t, {
        method: 'PATCH',
        url: `/api/v1/members/${owner.userId}`,
        key: owner.apiKey,
        body: { role: 'admin' },
      });
      assert.equal(demote.status, 409);
      assert.match(demote.body.detail, /last owner/);
      const remove = await call(t, {
        method: 'DELETE',
        url: `/api/v1/members/${owner.userId}`,
        key: owner.apiKey,
      });
      assert.equal(remove.status, 409);

      const second = await inviteAndAccept(t, owner.apiKey, 'owner2@example.com', 'owner');
      // Both owners demote each other at the same time: at most one succeeds.
      const [x, y] = await Promise.all([
        call(t, {
          method: 'PATCH',
          url: `/api/v1/members/${owner.userId}`,
          key: owner.apiKey,
          body: { role: 'admin' },
        }),
        call(t, {
          method: 'PATCH',
          url: `/api/v1/members/${second.id}`,
          key: owner.apiKey,
          body: { role: 'admin' },
        }),
      ]);
      // The loser gets 409 (last owner), or 403 when its key already acts with its demoted creator's role.
      assert.equal([x.status, y.status].filter((s) => s === 200).length, 1);
      assert.ok(
        [x.status, y.status].every((s) => [200, 403, 409].includes(s)),
        `${x.status} ${y.status}`,
      );
      const owners = await t.ctx.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM memberships WHERE role = 'owner' AND tenant_id = $1",
        [owner.tenantId],
      );
      assert.equal(owners.rows[0]!.n, 1);
    });

    test('an API key never has more rights than its creator has now', async () => {
      const admin = await inviteAndAccept(t, owner.apiKey, 'keymaker@example.com', 'admin');
      const cookie = await loginCookie(t, 'keymaker@example.com', OWNER_PASSWORD);
      const made = await call(t, {
        method: 'POST',
        url: '/api/v1/api-keys',
        cookie,
        headers: { 'x-requested-with': 'ferry' },
        body: { name: 'k', role: 'admin' },
      });
      assert.equal(made.status, 201, made.text);
      assert.equal((await call(t, { url: '/api/v1/me', key: made.body.apiKey })).body.role, 'admin');
      await call(t, {
        method: 'PATCH',
        url: `/api/v1/members/${admin.id}`,
        key: owner.apiKey,
        body: { role: 'viewer' },
      });
      const demoted = await call(t, { url: '/api/v1/me', key: made.body.apiKey });
      assert.equal(demoted.body.role, 'viewer');
      assert.equal((await call(t, { url: '/api/v1/members', key: made.body.apiKey })).status, 403);
      await call(t, { method: 'DELETE', url: `/api/v1/members/${admin.id}`, key: owner.apiKey });
      assert.equal((await call(t, { url: '/api/v1/me', key: made.body.apiKey })).status, 401);
    });

    test('a removed member loses access at once', async () => {
      const m = await inviteAndAccept(t, owner.apiKey, 'gone@example.com', 'editor');
      const cookie = await loginCookie(t, 'gone@example.com', OWNER_PASSWORD);
      assert.equal(
        (await call(t, { method: 'DELETE', url: `/api/v1/members/${m.id}`, key: owner.apiKey })).status,
        204,
      );
      assert.equal((await call(t, { url: '/api/v1/me', cookie })).status, 401);
      assert.equal((await call(t, { url: `/api/v1/members/${m.id}`, key: owner.apiKey })).status, 404);
    });

    test('member changes are audited; the audit log filters and pages with a cursor', async () => {
      const all = await call(t, { url: '/api/v1/audit?action=member.*&limit=500', key: owner.apiKey });
      const actions = new Set(all.body.items.map((i: { action: string }) => i.action));
      for (const a of [
        'member.added',
        'member.invited',
        'member.invitation_accepted',
        'member.role_changed',
        'member.removed',
      ])
        assert.ok(actions.has(a), a);
      const total = all.body.items.length;
      assert.ok(total >= 6);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { body: { items: Array<{ id: string }>; nextCursor: string | null } } = await call(t, {
          url: `/api/v1/audit?action=member.*&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
          key: owner.apiKey,
        });
        assert.ok(page.body.items.length <= 2);
        seen.push(...page.body.items.map((i) => i.id));
        cursor = page.body.nextCursor;
      } while (cursor);
      assert.equal(
        seen.length,
        total,
        JSON.stringify({ seen, all: all.body.items.map((i: { id: string }) => i.id) }),
      );
      assert.equal(new Set(seen).size, total);
      assert.deepEqual(
        seen,
        [...seen].sort((p, q) => Number(q) - Number(p)),
      );

      const removed = await call(t, { url: '/api/v1/audit?action=member.removed', key: owner.apiKey });
      assert.ok(removed.body.items.every((i: { action: string }) => i.action === 'member.removed'));
      const future = await call(t, {
        url: `/api/v1/audit?from=${new Date(Date.now() + 3_600_000).toISOString()}`,
        key: owner.apiKey,
      });
      assert.deepEqual(future.body.items, []);
      assert.equal((await call(t, { url: '/api/v1/audit?from=yesterday', key: owner.apiKey })).status, 400);
    });

    test('instance admins create tenants with an owner key; others cannot', async () => {
      const created = await createTenant(t, owner.apiKey, 'Customer 42', 'c42@example.com');
      const me = await call(t, { url: '/api/v1/me', key: created.apiKey });
      assert.equal(me.body.tenant.name, 'Customer 42');
      assert.equal(me.body.role, 'owner');
      assert.equal(me.body.instanceAdmin, false);
      const denied = await call(t, {
        method: 'POST',
        url: '/api/v1/admin/tenants',
        key: created.apiKey,
        body: { name: 'X', ownerEmail: 'x@example.com', ownerPassword: OWNER_PASSWORD },
      });
      assert.equal(denied.status, 403);
      const list = await call(t, { url: '/api/v1/admin/tenants', key: owner.apiKey });
      assert.ok(
        list.body.items.some(
          (i: { id: string; memberCount: number }) => i.id === created.tenantId && i.memberCount === 1,
        ),
      );
      // The same person can own a second tenant and choose it at sign-in.
      const again = await createTenant(t, owner.apiKey, 'Customer 43', 'c42@example.com');
      const login = await call(t, {
        method: 'POST',
        url: '/api/v1/auth/login',
        body: { email: 'c42@example.com', password: OWNER_PASSWORD, tenantId: again.tenantId },
      });
      assert.equal(login.body.tenantId, again.tenantId);
      const audit = await call(t, { url: '/api/v1/audit?action=tenant.created', key: created.apiKey });
      assert.equal(audit.body.items[0].actor.type, 'api_key');
    });
  });
}
