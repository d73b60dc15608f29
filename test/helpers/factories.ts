import { randomUUID } from 'node:crypto';
import { call, OWNER_PASSWORD, reportFromTemplate, type TenantHandle, type TestApp } from './app.ts';
import { invite, inviteAndAccept } from './invitations.ts';

// One factory per resource kind that a route's `:id` can name (route config
// `resource`). The route walkers fail for a kind that has no factory here, so a
// new resource route cannot go untested for tenant isolation.

type Factory = (t: TestApp, tenant: TenantHandle) => Promise<string>;

export const resourceFactories: Record<string, Factory> = {
  'api-key': async (t, tenant) => {
    const r = await call(t, {
      method: 'POST',
      url: '/api/v1/api-keys',
      key: tenant.apiKey,
      body: { name: 'factory', role: 'viewer' },
    });
    if (r.status !== 201) throw new Error(`api-key factory: ${r.status} ${r.text}`);
    return r.body.id;
  },
  connection: async (t, tenant) => {
    const r = await call(t, {
      method: 'POST',
      url: '/api/v1/connections',
      key: tenant.apiKey,
      body: {
        name: 'factory',
        type: 'postgres',
        config: { host: '127.0.0.1', port: 1, database: 'none', user: 'nobody', password: 'pw' },
      },
    });
    if (r.status !== 201) throw new Error(`connection factory: ${r.status} ${r.text}`);
    return r.body.id;
  },
  report: async (t, tenant) => {
    return (await reportFromTemplate(t, tenant.apiKey, 'customer-list')).body.id;
  },
  run: async (t, tenant) => {
    const report = await resourceFactories['report']!(t, tenant);
    const r = await call(t, {
      method: 'POST',
      url: '/api/v1/exports',
      key: tenant.apiKey,
      body: { reportId: report, format: 'csv' },
    });
    if (r.status !== 202) throw new Error(`run factory: ${r.status} ${r.text}`);
    return r.body.id;
  },
  schedule: async (t, tenant) => {
    const report = await resourceFactories['report']!(t, tenant);
    const r = await call(t, {
      method: 'POST',
      url: '/api/v1/schedules',
      key: tenant.apiKey,
      body: { name: 'factory', reportId: report, format: 'csv', cron: '0 9 * * *' },
    });
    if (r.status !== 201) throw new Error(`schedule factory: ${r.status} ${r.text}`);
    return r.body.id;
  },
  destination: async (t, tenant) => {
    const r = await call(t, {
      method: 'POST',
      url: '/api/v1/destinations',
      key: tenant.apiKey,
      body: {
        name: `factory ${randomUUID().slice(0, 8)}`,
        type: 'email',
        settings: { to: ['factory@example.com'], attach: 'link' },
      },
    });
    if (r.status !== 201) throw new Error(`destination factory: ${r.status} ${r.text}`);
    return r.body.id;
  },
  member: async (t, tenant) => {
    const email = `member-${randomUUID().slice(0, 8)}@example.com`;
    return (await inviteAndAccept(t, tenant.apiKey, email, 'editor', OWNER_PASSWORD)).id;
  },
  invitation: async (t, tenant) => {
    const r = await invite(t, tenant.apiKey, `invitee-${randomUUID().slice(0, 8)}@example.com`, 'viewer');
    if (r.status !== 202) throw new Error(`invitation factory: ${r.status} ${r.text}`);
    return r.body.id;
  },
};
