import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { waitFor } from '../helpers/time.ts';
import {
  addTenant,
  type BrowserApp,
  callAs,
  checkA11y,
  createApiKey,
  expectNoProblems,
  OWNER,
  openApp,
  pickOption,
  screenshot,
  scriptsOf,
  settle,
  signIn,
  signOut,
  waitForPath,
  waitForShell,
} from './helpers/browser.ts';
import type { InPage, PageElement } from './helpers/dom.ts';

// The app's frame in a real browser against a real `ferry start`: first run,
// sign-in and out, deep links, the tenant switcher, language, theme, the narrow
// layout, accessibility, and how the server serves the app.

const FIRST_LOAD_BUDGET = 350 * 1000;

describe('the web app shell', () => {
  let app: BrowserApp;
  let page: Page;

  before(async () => {
    app = await openApp();
    page = app.page;
  });
  after(() => app?.close());

  test('a fresh instance opens on the setup page, which is accessible', async () => {
    await page.goto('/');
    await waitForPath(page, '/setup');
    await page.getByRole('heading', { name: 'Set up Ferry' }).waitFor();
    assert.equal(await page.title(), 'Set up Ferry · Ferry');
    await screenshot(page, 'setup');
    expectNoProblems(page);
    await checkA11y(page, 'the setup page');
  });

  test('setup checks its fields before sending and shows the API’s error for a wrong token', async () => {
    let posts = 0;
    const count = (r: { method(): string; url(): string }) => {
      if (r.method() === 'POST' && r.url().endsWith('/api/v1/setup')) posts++;
    };
    page.on('request', count);
    try {
      await page.getByRole('button', { name: 'Create workspace' }).click();
      // Required fields and a short password are refused in the page, next to each field.
      const token = page.getByLabel('Setup token');
      await waitForInvalid(token);
      assert.equal(await describedBy(token), 'Required');
      assert.equal(posts, 0, 'nothing is sent while the form has errors');

      await token.fill('not-the-token');
      await page.getByLabel('Workspace name').fill(OWNER.tenantName);
      await page.getByLabel('Your name').fill(OWNER.name);
      await page.getByLabel('E-mail').fill(OWNER.email);
      await page.getByLabel(/^Password/).fill(OWNER.password);
      await page.getByRole('button', { name: 'Create workspace' }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      assert.match((await alert.textContent()) ?? '', /The setup token is not valid/);
      assert.equal(posts, 1);
      assert.equal(new URL(page.url()).pathname, '/setup');
    } finally {
      page.off('request', count);
    }
    expectNoProblems(page, { allow: ['POST /api/v1/setup 403'] });
  });

  test('setup with the printed token creates the workspace and lands signed in on /reports', async () => {
    await page.getByLabel('Setup token').fill(app.setupToken);
    await page.getByRole('button', { name: 'Create workspace' }).click();
    await waitForPath(page, '/reports');
    await waitForShell(page);
    assert.equal(await page.getByTestId('tenant-name').textContent(), OWNER.tenantName);
    const me = await callAs(page, 'GET', '/api/v1/me');
    assert.equal(me.status, 200);
    assert.equal(me.body.role, 'owner');
    assert.equal(me.body.tenant.name, OWNER.tenantName);
    await screenshot(page, 'reports');
    // Setup is closed now: the setup page sends a signed-in user on to the app.
    await page.goto('/setup');
    await waitForPath(page, /^\/(login|reports)/);
    expectNoProblems(page);
  });

  test('the shell is accessible, and an unknown page inside it says so', async () => {
    await page.goto('/no-such-page');
    await waitForShell(page);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    expectNoProblems(page);
    await checkA11y(page, 'the shell (light)');
  });

  test('the server: no HSTS or upgrade on http, no inline scripts, deep links answered with the app', async () => {
    const home = await fetch(`${app.url}/`);
    assert.equal(home.status, 200);
    assert.equal(home.headers.get('strict-transport-security'), null);
    const csp = home.headers.get('content-security-policy') ?? '';
    assert.doesNotMatch(csp, /upgrade-insecure-requests/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /script-src[^;]*'unsafe-(inline|eval)'/);
    assert.equal(home.headers.get('cache-control'), 'no-cache');
    const html = await home.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.ok(scripts.length > 0);
    for (const [, attributes, body] of scripts) {
      assert.match(attributes ?? '', /\bsrc="\/assets\//, 'every script is a file');
      assert.equal(body?.trim(), '', 'no inline script');
    }
    // A deep link is the app too, so that reloading any page works.
    const deep = await fetch(`${app.url}/runs?status=failed`);
    assert.equal(deep.status, 200);
    assert.equal(await deep.text(), html);
  });

  test('assets are gzipped and cached for good; a missing asset and an unknown API path are 404s', async () => {
    const html = await (await fetch(`${app.url}/`)).text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(asset);
    const js = await fetch(`${app.url}${asset}`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(js.status, 200);
    assert.equal(js.headers.get('content-encoding'), 'gzip');
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.ok((await js.text()).length > 0);

    const missing = await fetch(`${app.url}/assets/index-00000000.js`);
    assert.equal(missing.status, 404);
    assert.doesNotMatch(missing.headers.get('content-type') ?? '', /text\/html/);

    const api = await fetch(`${app.url}/api/v1/nope`);
    assert.equal(api.status, 404);
    assert.match(api.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(((await api.json()) as { status: number }).status, 404);
  });

  test('a visitor who is not signed in gets the sign-in page, which is accessible', async () => {
    const visitor = await app.newPage();
    try {
      await visitor.goto('/login');
      await visitor.getByRole('heading', { name: 'Sign in to Ferry' }).waitFor();
      await screenshot(visitor, 'sign-in');
      await visitor.goto('/');
      await visitor.getByRole('heading', { name: 'Sign in to Ferry' }).waitFor();
      // Someone who was never signed in is not told that their session ended.
      assert.equal(pathAndQuery(visitor), '/login?next=%2F');
      assert.equal(await visitor.getByText('Your session has ended').count(), 0);
      expectNoProblems(visitor);
      await checkA11y(visitor, 'the sign-in page');
    } finally {
      await visitor.context().close();
    }
  });

  test('sign out goes to the sign-in page; a wrong password shows the error; signing in again works', async () => {
    await page.goto('/reports');
    await waitForShell(page);
    // The page has its reports before the session ends (a request still on its way would meet a 401).
    await page.getByTestId('reports-table').waitFor();
    await settle(page);
    await signOut(page);
    await page.getByText('You are signed out.').waitFor();
    assert.equal((await callAs(page, 'GET', '/api/v1/me')).status, 401, 'the session has ended');

    await page.getByLabel('E-mail').fill(OWNER.email);
    await page.getByLabel(/^Password/).fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'Invalid' });
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /Invalid e-mail or password/);
    assert.equal(new URL(page.url()).pathname, '/login');

    await signIn(page, OWNER);
    assert.equal(new URL(page.url()).pathname, '/reports');
    expectNoProblems(page, { allow: ['POST /api/v1/auth/login 401', 'GET /api/v1/me 401'] });
  });

  test('a deep link survives reload, and signing in from it lands on it', async () => {
    await page.goto('/runs?status=failed');
    await waitForShell(page);
    await page.reload();
    await waitForShell(page);
    assert.equal(pathAndQuery(page), '/runs?status=failed');
    // The navigation marks where the user is.
    assert.equal(await page.getByRole('link', { name: 'Runs' }).getAttribute('data-active'), 'true');

    const stranger = await app.newPage();
    try {
      await stranger.goto('/workspace/members?tab=invitations');
      await stranger.getByRole('heading', { name: 'Sign in to Ferry' }).waitFor();
      assert.equal(new URL(stranger.url()).searchParams.get('next'), '/workspace/members?tab=invitations');
      await stranger.getByLabel('E-mail').fill(OWNER.email);
      await stranger.getByLabel(/^Password/).fill(OWNER.password);
      await stranger.getByRole('button', { name: 'Sign in' }).click();
      await waitForPath(stranger, '/workspace/members?tab=invitations');
      await waitForShell(stranger);
      expectNoProblems(stranger);
    } finally {
      await stranger.context().close();
    }
    expectNoProblems(page);
  });

  test('a user in two workspaces sees the switcher, and switching changes the workspace', async () => {
    const ownerKey = await createApiKey(page, { instanceAdmin: true });
    await addTenant(app, ownerKey, { name: 'Operations', ownerEmail: OWNER.email });
    await page.reload();
    await waitForShell(page);
    const switcher = page.getByRole('combobox', { name: 'Switch workspace' });
    await switcher.waitFor();
    assert.equal(await switcher.inputValue(), OWNER.tenantName);

    await pickOption(switcher, page.getByRole('option', { name: 'Operations' }));
    await until(page, async () => (await switcher.inputValue()) === 'Operations');
    await waitForPath(page, '/reports');
    assert.equal((await callAs(page, 'GET', '/api/v1/me')).body.tenant.name, 'Operations');
    // Another workspace's data, not the first one's cached pages.
    await page.reload();
    await waitForShell(page);
    assert.equal(await switcher.inputValue(), 'Operations');

    await pickOption(switcher, page.getByRole('option', { name: OWNER.tenantName }));
    await until(page, async () => (await switcher.inputValue()) === OWNER.tenantName);
    assert.equal((await callAs(page, 'GET', '/api/v1/me')).body.tenant.name, OWNER.tenantName);
    expectNoProblems(page);
  });

  test('Deutsch shows the app in German, and the choice is kept', async () => {
    await page.goto('/reports');
    await waitForShell(page);
    await page.getByTestId('user-menu').click();
    await page.getByRole('menuitem', { name: 'Deutsch' }).click();
    const nav = page.getByRole('navigation');
    await nav.getByRole('link', { name: 'Berichte' }).waitFor();
    for (const name of ['Zeitpläne', 'Läufe', 'Verbindungen', 'Mitglieder', 'API-Schlüssel'])
      await nav.getByRole('link', { name }).waitFor();
    assert.equal(
      await page.evaluate(() => (globalThis as unknown as InPage).document.documentElement.lang),
      'de',
    );
    await page.reload();
    await waitForShell(page);
    await nav.getByRole('link', { name: 'Zeitpläne' }).waitFor();
    await page.getByTestId('user-menu').click();
    await page.getByRole('menuitem', { name: 'Abmelden' }).waitFor();
    await page.getByRole('menuitem', { name: 'English' }).click();
    await nav.getByRole('link', { name: 'Schedules' }).waitFor();
    assert.equal(
      await page.evaluate(() => (globalThis as unknown as InPage).document.documentElement.lang),
      'en',
    );
    expectNoProblems(page);
  });

  test('the dark theme applies, is kept, and is accessible', async () => {
    const scheme = () =>
      page.evaluate(
        () => (globalThis as unknown as InPage).document.documentElement.dataset['mantineColorScheme'],
      );
    assert.equal(await scheme(), 'light');
    const background = () =>
      page.evaluate(() => {
        const { document, getComputedStyle } = globalThis as unknown as InPage;
        return getComputedStyle(document.body).backgroundColor;
      });
    const light = await background();
    await page.getByTestId('user-menu').click();
    await page.getByRole('menuitem', { name: 'Dark' }).click();
    await until(page, async () => (await scheme()) === 'dark');
    try {
      assert.notEqual(await background(), light);
      await page.goto('/no-such-page');
      await waitForShell(page);
      assert.equal(await scheme(), 'dark');
      await checkA11y(page, 'the shell (dark)');
    } finally {
      await page.getByTestId('user-menu').click();
      await page.getByRole('menuitem', { name: 'Light' }).click();
      await until(page, async () => (await scheme()) === 'light');
    }
    expectNoProblems(page);
  });

  test('at 390 px the navigation is behind the menu button and works', async () => {
    const phone = await app.newPage({ viewport: { width: 390, height: 844 } });
    try {
      await signIn(phone, OWNER, { next: '/reports' });
      const nav = phone.getByRole('navigation');
      const burger = phone.getByRole('button', { name: 'Open navigation' });
      await burger.waitFor();
      const runs = nav.getByRole('link', { name: 'Runs' });
      assert.equal(await onScreen(runs), false, 'the navigation is closed');
      const width = await phone.evaluate(
        () => (globalThis as unknown as InPage).document.documentElement.scrollWidth,
      );
      assert.ok(width <= 390, `the page is ${width} px wide, wider than the screen`);
      await burger.click();
      await until(phone, () => onScreen(runs));
      await runs.click();
      await waitForPath(phone, '/runs');
      await until(phone, async () => !(await onScreen(runs)));
      await burger.click();
      await until(phone, () => onScreen(runs));
      await screenshot(phone, 'navigation-390');
      expectNoProblems(phone);
      await checkA11y(phone, 'the shell at 390 px with the menu open');
    } finally {
      await phone.context().close();
    }
  });

  test('the first page load stays within the JavaScript budget', async (t) => {
    // A new browser (empty cache) signs in and shows /reports: every script it
    // downloaded on the way counts, with the bytes on the wire (gzip).
    const fresh = await app.newPage();
    try {
      await signIn(fresh, OWNER);
      await waitForPath(fresh, '/reports');
      await settle(fresh);
      const scripts = scriptsOf(fresh);
      for (const s of scripts) assert.equal(s.encoding, 'gzip', `${s.path} is sent ${s.encoding}`);
      const total = scripts.reduce((sum, s) => sum + s.bytes, 0);
      t.diagnostic(
        `first load of /reports: ${(total / 1000).toFixed(1)} kB gzipped JavaScript in ${scripts.length} files: ${scripts
          .map((s) => `${s.path.replace('/assets/', '')} ${(s.bytes / 1000).toFixed(1)} kB`)
          .join(', ')}`,
      );
      assert.ok(total > 0);
      assert.ok(total < FIRST_LOAD_BUDGET, `${total} bytes of gzipped JavaScript, over the budget`);
      expectNoProblems(fresh);
    } finally {
      await fresh.context().close();
    }
  });
});

function pathAndQuery(page: Page): string {
  const { pathname, search } = new URL(page.url());
  return pathname + search;
}

function until(page: Page, check: () => Promise<boolean>): Promise<boolean> {
  return waitFor(`a change on ${page.url()}`, check);
}

/** Whether any of the element is inside the window (a closed drawer is moved off screen, not hidden). */
async function onScreen(locator: Locator): Promise<boolean> {
  const box = await locator.boundingBox();
  const size = locator.page().viewportSize();
  if (!box || !size) return false;
  return box.x + box.width > 0 && box.x < size.width && box.y + box.height > 0 && box.y < size.height;
}

async function waitForInvalid(locator: Locator): Promise<void> {
  await locator.and(locator.page().locator('[aria-invalid="true"]')).waitFor();
}

async function describedBy(locator: Locator): Promise<string> {
  return locator.evaluate((el: PageElement) => {
    const { document } = globalThis as unknown as InPage;
    const ids = (el.getAttribute('aria-describedby') ?? '').split(/\s+/).filter(Boolean);
    return ids
      .map((id) => document.getElementById(id))
      .filter((x) => x?.className.includes('error'))
      .map((x) => x?.textContent ?? '')
      .join(' ');
  });
}
