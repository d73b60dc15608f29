import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type Role, roles } from '../../src/modules/members/roles.ts';
import type { RegisteredRoute } from '../../src/server/types.ts';
import {
  call,
  createKey,
  createTenant,
  createTestApp,
  setupFirstTenant,
  type TenantHandle,
  type TestApp,
} from '../helpers/app.ts';
import { backends } from '../helpers/db.ts';
import { resourceFactories } from '../helpers/factories.ts';
import { sampleFromSchema } from '../helpers/sample.ts';

// These tests walk every registered route, so routes added later are covered
// without writing a test for them here.

const apiRoutes = (t: TestApp) =>
  t.app.registeredRoutes.filter((r) => r.url.startsWith('/api/v1') && !r.hidden);
// `:id` is the resource under test; any other id in the path (a run's delivery) is a fresh one.
const withId = (r: RegisteredRoute, id: string) =>
  r.url.replace(':id', id).replace(/:[A-Za-z]+Id\b/g, () => randomUUID());
type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

const everyone: Role[] = ['owner', 'admin', 'editor', 'viewer'];
const editors: Role[] = ['owner', 'admin', 'editor'];
const admins: Role[] = ['owner', 'admin'];

/**
 * Who may call each route, written out row by row: the expectation the matrix
 * checks, independent of rolePermissions and of the permission each route
 * declares (both are what is under test). A new route fails the matrix until it
 * has a row here. Tenant roles' keys never pass 'instance-admin' routes.
 */
const grants: Record<string, Role[] | 'public' | 'signed-in' | 'instance-admin'> = {
  'GET /api/v1/setup': 'public',
  'POST /api/v1/setup': 'public',
  'POST /api/v1/auth/login': 'public',
  'POST /api/v1/auth/switch': 'signed-in',
  'POST /api/v1/auth/logout': 'signed-in',
  'GET /api/v1/me': 'signed-in',
  'GET /api/v1/api-keys': admins,
  'POST /api/v1/api-keys': admins,
  'GET /api/v1/api-keys/:id': admins,
  'DELETE /api/v1/api-keys/:id': admins,
  'GET /api/v1/members': admins,
  'POST /api/v1/members': admins,
  'GET /api/v1/members/:id': admins,
  'PATCH /api/v1/members/:id': admins,
  'DELETE /api/v1/members/:id': admins,
  'GET /api/v1/invitations': admins,
  'GET /api/v1/invitations/:id': admins,
  'DELETE /api/v1/invitations/:id': admins,
  'POST /api/v1/invitations/preview': 'public',
  'POST /api/v1/invitations/accept': 'public',
  'GET /api/v1/audit': admins,
  'GET /api/v1/audit/facets': admins,
  'GET /api/v1/admin/tenants': 'instance-admin',
  'POST /api/v1/admin/tenants': 'instance-admin',
  'GET /api/v1/admin/tenants/:id/limits': 'instance-admin',
  'PUT /api/v1/admin/tenants/:id/limits': 'instance-admin',
  'GET /api/v1/connections': everyone,
  'POST /api/v1/connections': admins,
  'POST /api/v1/connections/test': admins,
  'GET /api/v1/connections/:id': everyone,
  'PATCH /api/v1/connections/:id': admins,
  'DELETE /api/v1/connections/:id': admins,
  'POST /api/v1/connections/:id/test': everyone,
  'GET /api/v1/connections/:id/schema': everyone,
  'GET /api/v1/reports': everyone,
  'POST /api/v1/reports/parameters/resolve': everyone,
  'POST /api/v1/reports': editors,
  'POST /api/v1/reports/preview': editors,
  'GET /api/v1/reports/:id': everyone,
  'PATCH /api/v1/reports/:id': editors,
  'DELETE /api/v1/reports/:id': editors,
  'POST /api/v1/reports/:id/preview': everyone,
  'POST /api/v1/reports/:id/format-check': everyone,
  'GET /api/v1/templates': everyone,
  'POST /api/v1/templates/:key/use': editors,
  'GET /api/v1/stats': everyone,
  'POST /api/v1/exports': editors,
  'GET /api/v1/runs': everyone,
  'GET /api/v1/runs/:id': everyone,
  'DELETE /api/v1/runs/:id': editors,
  'POST /api/v1/runs/:id/cancel': editors,
  'POST /api/v1/runs/:id/retry': editors,
  'POST /api/v1/runs/:id/link': everyone,
  'GET /api/v1/runs/:id/download': everyone,
  'GET /api/v1/runs/:id/events': everyone,
  'GET /api/v1/formats': 'signed-in',
  'POST /api/v1/formats/file-name': 'signed-in',
  'GET /api/v1/schedules': everyone,
  'POST /api/v1/schedules': editors,
  'POST /api/v1/cron/preview': everyone,
  'GET /api/v1/calendars': everyone,
  'GET /api/v1/schedules/:id': everyone,
  'PATCH /api/v1/schedules/:id': editors,
  'DELETE /api/v1/schedules/:id': editors,
  'POST /api/v1/schedules/:id/pause': editors,
  'POST /api/v1/schedules/:id/resume': editors,
  'POST /api/v1/schedules/:id/run': editors,
  'GET /api/v1/destination-types': everyone,
  'GET /api/v1/destinations': everyone,
  'POST /api/v1/destinations': admins,
  'GET /api/v1/destinations/:id': everyone,
  'PATCH /api/v1/destinations/:id': admins,
  'DELETE /api/v1/destinations/:id': admins,
  'POST /api/v1/destinations/:id/test': admins,
  'GET /api/v1/delivery-policy': everyone,
  'PUT /api/v1/delivery-policy': admins,
  'POST /api/v1/runs/:id/deliveries/:deliveryId/retry': editors,
};

for (const backend of backends()) {
  describe(`every route (${backend})`, () => {
    let t: TestApp;
    let a: TenantHandle;
    let b: TenantHandle;
    const keys = {} as Record<Role, string>;
    before(async () => {
      t = await createTestApp(backend);
      a = await setupFirstTenant(t, 'owner-a@example.com');
      b = await createTenant(t, a.apiKey, 'Tenant B', 'owner-b@example.com');
      for (const role of roles) keys[role] = await createKey(t, a.apiKey, role);
    });
    after(() => t.close());

    test('every validator and serializer compiles (they are compiled on first use, so a broken schema would otherwise show only when its route is called)', () => {
      const compiled = t.app.compileSchemas();
      // Request parts and response codes of ~100 routes: hundreds of schemas.
      assert.ok(compiled > 300, `only ${compiled} schemas`);
    });

    test('every /api/v1 route declares who may call it and appears in the OpenAPI document', async () => {
      const doc = (await call(t, { url: '/api/v1/openapi.json' })).body;
      assert.equal(doc.openapi, '3.1.0');
      for (const route of apiRoutes(t)) {
        assert.ok(route.config.auth, `${route.method} ${route.url} has no auth`);
        const path = route.url.replace(/:(\w+)/g, '{$1}');
        assert.ok(
          doc.paths[path]?.[route.method.toLowerCase()],
          `${route.method} ${path} missing from openapi.json`,
        );
      }
      const docs = await call(t, { url: '/docs/' });
      assert.equal(docs.status, 200);
      assert.match(docs.text, /swagger/i);
    });

    test('permission matrix: each role gets 403 exactly on the routes the table above does not grant it', async () => {
      const routes = apiRoutes(t);
      const names = routes.map((r) => `${r.method} ${r.url}`);
      assert.deepEqual(
        names.filter((name) => !(name in grants)),
        [],
        'routes without a row in the grants table',
      );
      assert.deepEqual(
        Object.keys(grants).filter((name) => !names.includes(name)),
        [],
        'rows for routes that do not exist',
      );
      let checked = 0;
      for (const route of routes) {
        const granted = grants[`${route.method} ${route.url}`]!;
        const auth = route.config.auth;
        if (granted === 'public' || granted === 'signed-in') {
          assert.equal(
            auth,
            granted === 'public' ? 'public' : 'authenticated',
            `${route.method} ${route.url}`,
          );
          continue;
        }
        for (const role of roles) {
          const r = await call(t, {
            method: route.method as Method,
            // Every parameter an id that exists nowhere: the answer is about permission alone.
            url: route.url.replace(/:\w+/g, () => randomUUID()),
            key: keys[role],
            ...(route.body ? { body: sampleFromSchema(route.body) } : {}),
          });
          const label = `${role} ${route.method} ${route.url} → ${r.status} ${r.text}`;
          assert.notEqual(r.status, 401, label);
          assert.ok(r.status < 500, label);
          if (granted === 'instance-admin' || !granted.includes(role)) {
            assert.equal(r.status, 403, label);
          } else {
            assert.ok(
              !(r.status === 403 && /lacks the permission|Only instance admins/.test(r.body.detail)),
              label,
            );
          }
          checked++;
        }
      }
      assert.ok(checked >= 40, `only ${checked} route × role checks ran`);
      // The instance admin's key passes the admin routes.
      assert.equal((await call(t, { url: '/api/v1/admin/tenants', key: a.apiKey })).status, 200);
    });

    test("cross-tenant: another tenant's ids answer 404 on every route that takes an id", async () => {
      let checked = 0;
      // Instance-admin routes act across tenants by design; every other :id route is tenant-scoped.
      for (const route of apiRoutes(t).filter(
        (r) => r.url.includes(':id') && r.config.auth !== 'instance-admin',
      )) {
        const kind = route.config.resource;
        assert.ok(kind, `${route.method} ${route.url} takes :id but declares no resource kind`);
        const factory = resourceFactories[kind];
        assert.ok(factory, `no factory for resource kind "${kind}" in test/helpers/factories.ts`);
        const foreignId = await factory(t, b);
        const r = await call(t, {
          method: route.method as Method,
          url: withId(route, foreignId),
          key: a.apiKey,
          ...(route.body ? { body: sampleFromSchema(route.body) } : {}),
        });
        assert.equal(
          r.status,
          404,
          `${route.method} ${route.url} with tenant B's ${kind} → ${r.status} ${r.text}`,
        );
        // And it is still there for its own tenant.
        const own = await call(t, { url: `/api/v1/${kind}s/${foreignId}`, key: b.apiKey });
        assert.equal(own.status, 200, `${kind} ${foreignId} vanished from tenant B`);
        checked++;
      }
      assert.ok(checked >= 5, `only ${checked} routes checked`);
    });

    test("lists never show another tenant's rows", async () => {
      const bKey = await resourceFactories['api-key']!(t, b);
      const bMember = await resourceFactories['member']!(t, b);
      for (const route of apiRoutes(t).filter(
        (r) =>
          r.method === 'GET' &&
          !r.url.includes(':') &&
          r.config.auth !== 'instance-admin' &&
          r.config.auth !== 'public',
      )) {
        const r = await call(t, { url: route.url, key: a.apiKey });
        assert.equal(r.status, 200, route.url);
        assert.ok(
          !r.text.includes(bKey) && !r.text.includes(bMember) && !r.text.includes(b.tenantId),
          `${route.url} leaks tenant B`,
        );
      }
    });

    test('bad input on every route: a clear 4xx naming the problem, never a 500', async () => {
      const big = JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 10) });
      for (const route of apiRoutes(t)) {
        const url = withId(route, randomUUID());
        const send = (extra: {
          payload?: string;
          body?: unknown;
          headers?: Record<string, string>;
          url?: string;
        }) => call(t, { method: route.method as Method, url: extra.url ?? url, key: a.apiKey, ...extra });
        if (route.url.includes(':id')) {
          const r = await send({
            url: route.url.replace(':id', 'not-a-uuid'),
            ...(route.body ? { body: sampleFromSchema(route.body) } : {}),
          });
          assert.equal(r.status, 400, `${route.method} ${route.url} bad id → ${r.status}`);
          assert.equal(r.body.errors[0].path, 'params.id');
        }
        if (route.body) {
          const malformed = await send({
            payload: '{"oops',
            headers: { 'content-type': 'application/json' },
          });
          assert.equal(malformed.status, 400, `${route.url} malformed`);
          assert.equal(malformed.headers['content-type'], 'application/problem+json; charset=utf-8');

          const sample = sampleFromSchema(route.body) as Record<string, unknown>;
          const unknown = await send({ body: { ...sample, surprise: 1 } });
          assert.equal(unknown.status, 400, `${route.url} unknown field → ${unknown.status} ${unknown.text}`);
          assert.deepEqual(
            unknown.body.errors.map((e: { path: string }) => e.path),
            ['surprise'],
          );

          const wrongTypes = await send({
            body: Object.fromEntries(Object.keys(sample).map((k) => [k, { nested: [] }])),
          });
          if (Object.keys(sample).length > 0) {
            assert.equal(wrongTypes.status, 400, `${route.url} wrong types`);
            // An open record (a destination's settings, whose fields depend on its type) takes any
            // object, so an object is not a wrong type for it; the service checks it by type.
            const properties = (route.body as { properties?: Record<string, { patternProperties?: object }> })
              .properties;
            for (const key of Object.keys(sample).filter((k) => !properties?.[k]?.patternProperties))
              assert.ok(
                wrongTypes.body.errors.some(
                  (e: { path: string }) => e.path === key || e.path.startsWith(`${key}.`),
                ),
                `${route.url}: ${key} not named`,
              );
          }
          const notObject = await send({ payload: '[1,2]', headers: { 'content-type': 'application/json' } });
          assert.equal(notObject.status, 400, `${route.url} array body`);

          const tooBig = await send({ payload: big, headers: { 'content-type': 'application/json' } });
          assert.equal(tooBig.status, 413, `${route.url} oversized`);

          const text = await send({ payload: 'hello', headers: { 'content-type': 'text/plain' } });
          assert.equal(text.status, 415, `${route.url} text/plain → ${text.status}`);
        }
        const qs = route.querystring as { properties?: Record<string, unknown> } | undefined;
        if (qs?.properties?.['cursor']) {
          for (const cursor of [
            '!!!',
            Buffer.from('{"id":"x"}').toString('base64url'),
            Buffer.from('[]').toString('base64url'),
          ]) {
            const r = await send({ url: `${url}?cursor=${cursor}` });
            assert.equal(r.status, 400, `${route.url} cursor ${cursor}`);
            assert.equal(r.body.errors[0].path, 'cursor');
          }
          const limit = await send({ url: `${url}?limit=100000` });
          assert.equal(limit.status, 400);
          assert.equal(limit.body.errors[0].path, 'querystring.limit');
        }
      }
      const unknownRoute = await call(t, { url: '/api/v1/nothing-here', key: a.apiKey });
      assert.equal(unknownRoute.status, 404);
      assert.equal(unknownRoute.headers['content-type'], 'application/problem+json; charset=utf-8');
    });
  });
}
