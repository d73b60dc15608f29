import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Locator,
  type Page,
  type Request,
} from 'playwright-core';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../../helpers/db.ts';
import { baseEnv, type Running, startFerry } from '../../helpers/process.ts';
import { scaled, waitFor } from '../../helpers/time.ts';
import type { InPage } from './dom.ts';

// The browser tests' harness: a real `ferry start` on a temporary data directory
// and a free port, driven by Debian's Chromium through playwright-core. Every
// page the harness opens is watched: console errors, uncaught exceptions, CSP
// violations and unexpected 4xx/5xx answers are collected, and
// `expectNoProblems(page)` fails a test that caused any.

const ROOT = join(import.meta.dirname, '..', '..', '..');
const SCREENSHOTS_CACHE = join(ROOT, '.test-cache', 'screenshots');
const SCREENSHOTS_DOCS = join(ROOT, 'docs', 'screenshots');

/** Debian's Chromium, or the one FERRY_CHROMIUM names. */
export const CHROMIUM = process.env['FERRY_CHROMIUM'] || '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The owner the tests set up, unless they say otherwise. */
export const OWNER = {
  tenantName: 'Finance',
  name: 'Olivia Owner',
  email: 'olivia@example.com',
  password: 'correct-horse-battery',
} as const;

/** The page header the app sends with every API call; cookie-authenticated writes need it. */
const CSRF = { 'x-requested-with': 'ferry' };

// ---------------------------------------------------------------------------
// Watching pages for problems

export interface Problem {
  kind: 'console' | 'pageerror' | 'csp' | 'http' | 'requestfailed';
  text: string;
  /** For `http`: the answer, to match against the allowed ones. */
  method?: string;
  path?: string;
  status?: number;
}

interface Watch {
  problems: Problem[];
  /** Requests on their way, other than event streams (which stay open). */
  inflight: Set<Request>;
  /** Every script the page downloaded: URL → bytes on the wire and encoding. */
  scripts: Map<string, { bytes: number; encoding: string }>;
}

const watches = new WeakMap<Page, Watch>();

/**
 * Answers the app asks for while working normally: "am I signed in?" (401 when
 * not) and "is setup still open?" (404 once it is done). Anything else a test
 * expects it names in `expectNoProblems(page, { allow })`.
 */
export const NORMAL_ANSWERS = ['GET /api/v1/me 401', 'GET /api/v1/setup 404'];

// Reported from inside the page: Chromium also logs violations to the console,
// this makes sure they are seen whatever the console says.
const CSP_REPORTER = () => {
  const { document } = globalThis as unknown as InPage;
  document.addEventListener('securitypolicyviolation', (event) => {
    console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`);
  });
};

function watch(page: Page): Watch {
  const existing = watches.get(page);
  if (existing) return existing;
  const w: Watch = { problems: [], inflight: new Set(), scripts: new Map() };
  watches.set(page, w);
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = message.text();
    // "Failed to load resource: ... status of 401": judged from the answer itself below.
    if (/^Failed to load resource: the server responded with a status of/.test(text)) return;
    const kind = /Content Security Policy|CSP violation/i.test(text) ? 'csp' : 'console';
    const at = message.location().url;
    w.problems.push({ kind, text: at ? `${text} (at ${at})` : text });
  });
  page.on('pageerror', (error) => w.problems.push({ kind: 'pageerror', text: error.stack ?? error.message }));
  page.on('request', (request) => {
    if (request.resourceType() !== 'eventsource') w.inflight.add(request);
  });
  page.on('requestfinished', (request) => w.inflight.delete(request));
  page.on('requestfailed', (request) => {
    w.inflight.delete(request);
    const failure = request.failure()?.errorText ?? 'failed';
    // Leaving a page (or closing an event stream) aborts what it still loads: not a fault.
    if (/ERR_ABORTED/.test(failure)) return;
    w.problems.push({ kind: 'requestfailed', text: `${request.method()} ${request.url()}: ${failure}` });
  });
  page.on('response', (response) => {
    const request = response.request();
    const url = new URL(response.url());
    if (request.resourceType() === 'script') {
      const headers = response.headers();
      w.scripts.set(url.pathname, {
        bytes: Number(headers['content-length'] ?? 0),
        encoding: headers['content-encoding'] ?? 'identity',
      });
    }
    const status = response.status();
    if (status < 400) return;
    w.problems.push({
      kind: 'http',
      method: request.method(),
      path: url.pathname,
      status,
      text: `${request.method()} ${url.pathname}${url.search} answered ${status}`,
    });
  });
  return w;
}

function matchesAllowed(problem: Problem, allowed: string): boolean {
  const [method, path, status] = allowed.split(' ');
  if (!method || !path || !status) throw new Error(`allow "${allowed}": write "METHOD /path STATUS"`);
  const pathMatches = path.endsWith('*')
    ? problem.path?.startsWith(path.slice(0, -1))
    : problem.path === path;
  return problem.method === method && pathMatches === true && String(problem.status) === status;
}

/** What went wrong on a page so far (everything, including answers that are normal). */
export function problemsOf(page: Page): Problem[] {
  return [...watch(page).problems];
}

/**
 * Fails when the page logged a console error, threw, broke its CSP, failed a
 * request or got a 4xx/5xx answer other than the normal ones and `allow`
 * ("POST /api/v1/auth/login 401"; a path ending in `*` is a prefix). The page's
 * record is emptied, so the next call judges only what happened after this one.
 */
export function expectNoProblems(page: Page, options: { allow?: string[] } = {}): void {
  const w = watch(page);
  const allowed = [...NORMAL_ANSWERS, ...(options.allow ?? [])];
  const unexpected = w.problems.filter(
    (p) => !(p.kind === 'http' && allowed.some((a) => matchesAllowed(p, a))),
  );
  w.problems.length = 0;
  assert.equal(
    unexpected.length,
    0,
    `The page had problems:\n${unexpected.map((p) => `  [${p.kind}] ${p.text}`).join('\n')}`,
  );
}

/** Scripts the page downloaded since it was opened, with their bytes on the wire. */
export function scriptsOf(page: Page): Array<{ path: string; bytes: number; encoding: string }> {
  return [...watch(page).scripts].map(([path, s]) => ({ path, ...s }));
}

/** Forgets the scripts seen so far (before measuring one page load). */
export function forgetScripts(page: Page): void {
  watch(page).scripts.clear();
}

// ---------------------------------------------------------------------------
// Starting Ferry and the browser

export interface OpenOptions {
  /** Browser context options for the first page (viewport 1280×800, light, en-GB, Europe/Berlin by default). */
  context?: BrowserContextOptions;
  /** Extra environment for `ferry start`. */
  env?: Record<string, string>;
}

// biome-ignore lint/suspicious/noExplicitAny: a parsed JSON response that tests inspect field by field
export interface ApiReply<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface BrowserApp {
  /** http://127.0.0.1:<port> */
  url: string;
  dataDir: string;
  /** The token `ferry start` printed and wrote to <dataDir>/setup-token. */
  setupToken: string;
  ferry: Running;
  browser: Browser;
  context: BrowserContext;
  /** The first page, in the first context. */
  page: Page;
  /** Another person at another browser: a context with its own cookies and storage, and its page. */
  newPage(options?: BrowserContextOptions): Promise<Page>;
  /** Calls the API without the browser: anonymously, or with an API key. */
  // biome-ignore lint/suspicious/noExplicitAny: as ApiReply
  api<T = any>(
    method: string,
    path: string,
    options?: { key?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<ApiReply<T>>;
  close(): Promise<void>;
}

/** Context defaults that make pages and screenshots the same on every machine. */
export const CONTEXT_DEFAULTS: BrowserContextOptions = {
  viewport: { width: 1280, height: 800 },
  deviceScaleFactor: 1,
  colorScheme: 'light',
  locale: 'en-GB',
  timezoneId: 'Europe/Berlin',
  reducedMotion: 'reduce',
};

/** The app each browser context belongs to, so that helpers need only the page. */
const apps = new WeakMap<BrowserContext, BrowserApp>();

export function appOf(page: Page): BrowserApp {
  const app = apps.get(page.context());
  if (!app) throw new Error('this page was not opened by openApp() or app.newPage()');
  return app;
}

async function newWatchedPage(
  browser: Browser,
  baseURL: string,
  options: BrowserContextOptions = {},
): Promise<Page> {
  const context = await browser.newContext({ ...CONTEXT_DEFAULTS, ...options, baseURL });
  context.setDefaultTimeout(scaled(15_000));
  context.setDefaultNavigationTimeout(scaled(30_000));
  await context.addInitScript(CSP_REPORTER);
  context.on('page', (p) => void watch(p));
  const page = await context.newPage();
  watch(page);
  return page;
}

/**
 * Starts `ferry start` on a fresh database (a clone of the test template on the
 * test server: the machine's PostgreSQL with TEST_DATABASE_URL, otherwise the
 * run's embedded one) and a temporary data directory, and Chromium beside it
 * (playwright gives each launch a fresh profile directory).
 */
export async function openApp(options: OpenOptions = {}): Promise<BrowserApp> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ferry-web-'));
  let database: TestDatabase | undefined;
  let ferry: Running | undefined;
  let browser: Browser | undefined;
  try {
    const launching = chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    database = await createTestDatabase();
    ferry = await startFerry(
      ['start'],
      baseEnv({
        DATABASE_URL: database.url,
        // The demo connection's reader roles are derived from the secret the template was built with.
        FERRY_SECRET: TEST_SECRET,
        FERRY_DATA_DIR: dataDir,
        // Every browser of a test run is one client address; the anonymous budget
        // (sign-in pages, setup probes) is meant for one person, not a test suite.
        FERRY_RATE_LIMIT_ANONYMOUS: '100000',
        ...options.env,
      }),
    );
    browser = await launching;
    const setupToken = (await readFile(join(dataDir, 'setup-token'), 'utf8')).trim();
    const url = ferry.url;
    const page = await newWatchedPage(browser, url, options.context);
    const running = ferry;
    const db = database;
    const chrome = browser;
    const app: BrowserApp = {
      url,
      dataDir,
      setupToken,
      ferry: running,
      browser: chrome,
      context: page.context(),
      page,
      async newPage(more) {
        const another = await newWatchedPage(chrome, url, { ...options.context, ...more });
        apps.set(another.context(), app);
        return another;
      },
      async api(method, path, { key, body, headers } = {}) {
        const response = await fetch(`${url}${path}`, {
          method,
          headers: {
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(key ? { authorization: `Bearer ${key}` } : {}),
            ...headers,
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        const text = await response.text();
        let parsed: unknown = text;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          // not JSON: the text is the body
        }
        return { status: response.status, headers: response.headers, body: parsed as never, text };
      },
      async close() {
        await chrome.close().catch(() => {});
        await running.stop().catch(() => {});
        await db.release().catch(() => {});
        await rm(dataDir, { recursive: true, force: true });
      },
    };
    apps.set(page.context(), app);
    return app;
  } catch (err) {
    await browser?.close().catch(() => {});
    await ferry?.stop('SIGKILL').catch(() => {});
    await database?.release().catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}

// ---------------------------------------------------------------------------
// People: setup, sign-in, members, tenants

export interface Account {
  email: string;
  password: string;
  name?: string;
}

/** Calls the API as the page's signed-in user (its session cookie), as the app does. */
// biome-ignore lint/suspicious/noExplicitAny: as ApiReply
export async function callAs<T = any>(
  page: Page,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await page.context().request.fetch(path, {
    method,
    headers: CSRF,
    ...(body === undefined ? {} : { data: body }),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: the text is the body
  }
  return { status: response.status(), body: parsed as T };
}

/** Waits until the page shows `path` (a prefix of path and query, or a pattern for them). */
export async function waitForPath(page: Page, path: string | RegExp): Promise<void> {
  await waitFor(`the page to show ${path}`, () => {
    const { pathname, search } = new URL(page.url());
    return typeof path === 'string' ? `${pathname}${search}`.startsWith(path) : path.test(pathname + search);
  }).catch((err: Error) => {
    throw new Error(`${err.message} (it shows ${page.url()})`);
  });
}

/**
 * Opens a list with `opener` and clicks `option` in it. A render (data arriving,
 * a query settling) may close the list between the two; then it is opened again
 * and the click tried again, until the option is picked.
 */
export async function pickOption(opener: Locator, option: Locator): Promise<void> {
  await waitFor(`${option} to be picked from the list`, async () => {
    if (!(await option.isVisible())) {
      await opener.click();
      await option.waitFor({ timeout: scaled(1000) }).catch(() => {});
      return false;
    }
    return option.click({ timeout: scaled(2000) }).then(
      () => true,
      () => false,
    );
  });
}

/** The signed-in shell is on screen: the account menu shows. */
export async function waitForShell(page: Page): Promise<void> {
  await page.getByTestId('user-menu').waitFor({ state: 'visible' });
}

/**
 * Fills the setup page as a first user would (opening `/` goes there on a fresh
 * instance) and waits until the app shows the signed-in shell on /reports.
 */
export async function setupThroughUi(
  page: Page,
  owner: Partial<typeof OWNER> & { setupToken?: string } = {},
): Promise<void> {
  const o = { ...OWNER, ...owner };
  await page.goto('/');
  await waitForPath(page, '/setup');
  await page.getByLabel('Setup token').fill(owner.setupToken ?? appOf(page).setupToken);
  await page.getByLabel('Workspace name').fill(o.tenantName);
  await page.getByLabel('Your name').fill(o.name);
  await page.getByLabel('E-mail').fill(o.email);
  await page.getByLabel(/^Password/).fill(o.password);
  await page.getByRole('button', { name: 'Create workspace' }).click();
  await waitForPath(page, '/reports');
  await waitForShell(page);
}

/**
 * Sets up the instance through the API (for tests that are not about setup);
 * returns the owner's API key. Then `signIn(page, OWNER)`.
 */
export async function setupThroughApi(
  app: BrowserApp,
  owner: Partial<typeof OWNER> = {},
): Promise<{ apiKey: string; tenantId: string; userId: string }> {
  const o = { ...OWNER, ...owner };
  const r = await app.api('POST', '/api/v1/setup', {
    body: {
      setupToken: app.setupToken,
      tenantName: o.tenantName,
      email: o.email,
      password: o.password,
      name: o.name,
    },
  });
  assert.equal(r.status, 201, r.text);
  return r.body;
}

/**
 * Signs in on the sign-in page (going there first unless the page is on it) and
 * waits for the shell. With `next` (a deep link), opens `/login?next=...` and
 * waits until the app shows that page.
 */
export async function signIn(page: Page, account: Account, options: { next?: string } = {}): Promise<void> {
  const onLogin = page.url() !== 'about:blank' && new URL(page.url()).pathname === '/login';
  if (!onLogin || options.next)
    await page.goto(`/login${options.next ? `?next=${encodeURIComponent(options.next)}` : ''}`);
  await page.getByLabel('E-mail').fill(account.email);
  await page.getByLabel(/^Password/).fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await waitForPath(page, options.next ?? /^\/(?!login)/);
  await waitForShell(page);
}

/** Signs out through the account menu and waits for the sign-in page. */
export async function signOut(page: Page): Promise<void> {
  await page.getByTestId('user-menu').click();
  await page.getByRole('menuitem', { name: 'Sign out' }).click();
  await waitForPath(page, '/login');
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
}

/**
 * An API key of the page's signed-in user, made with its session (after setup
 * through the UI, say). `instanceAdmin` lets it manage tenants (instance admins only).
 */
export async function createApiKey(
  page: Page,
  options: { role?: string; name?: string; instanceAdmin?: boolean } = {},
): Promise<string> {
  const r = await callAs<{ apiKey: string }>(page, 'POST', '/api/v1/api-keys', {
    name: options.name ?? 'browser tests',
    role: options.role ?? 'owner',
    ...(options.instanceAdmin ? { instanceAdmin: true } : {}),
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.apiKey;
}

/**
 * Adds someone to the tenant of `key` with a role, the way people join: an
 * invitation, accepted with their password (a new account chooses it, an
 * existing one confirms with it). Returns the member.
 */
export async function addMember(
  app: BrowserApp,
  key: string,
  person: Account & { role: 'owner' | 'admin' | 'editor' | 'viewer' },
): Promise<{ id: string; email: string; role: string }> {
  const invited = await app.api('POST', '/api/v1/members', {
    key,
    body: { email: person.email, role: person.role, ...(person.name ? { name: person.name } : {}) },
  });
  assert.equal(invited.status, 202, invited.text);
  const token = new URLSearchParams(new URL(invited.body.acceptUrl).hash.slice(1)).get('token');
  assert.ok(token, `no token in ${invited.body.acceptUrl}`);
  const accepted = await app.api('POST', '/api/v1/invitations/accept', {
    body: { token, password: person.password, ...(person.name ? { name: person.name } : {}) },
  });
  assert.equal(accepted.status, 200, accepted.text);
  return accepted.body.member;
}

/**
 * A new tenant made by an instance admin (`adminKey`, e.g. the setup owner's key).
 * An existing account named as owner becomes owner of it too (then it has two
 * tenants); a new one needs `password`. Returns the tenant and its owner's key.
 */
export async function addTenant(
  app: BrowserApp,
  adminKey: string,
  tenant: { name: string; ownerEmail: string; ownerPassword?: string; ownerName?: string },
): Promise<{ tenantId: string; userId: string; apiKey: string }> {
  const r = await app.api('POST', '/api/v1/admin/tenants', { key: adminKey, body: tenant });
  assert.equal(r.status, 201, r.text);
  return r.body;
}

// ---------------------------------------------------------------------------
// Settling, accessibility, screenshots

/**
 * Waits until the page is still: no request on its way (event streams aside),
 * no loader or skeleton showing, fonts loaded; twice in a row, so that data
 * arriving does not start another round of loading unseen.
 */
export async function settle(page: Page): Promise<void> {
  const w = watch(page);
  let quietBefore = false;
  await waitFor(`${page.url()} to settle`, async () => {
    const busy = await page.evaluate(async () => {
      const { document } = globalThis as unknown as InPage;
      await document.fonts.ready;
      if (document.readyState !== 'complete') return true;
      const loaders = document.querySelectorAll('.mantine-Loader-root, .mantine-Skeleton-root[data-visible]');
      return Array.from(loaders).some((el) => el.offsetParent !== null);
    });
    const quiet = !busy && w.inflight.size === 0;
    const settled = quiet && quietBefore;
    quietBefore = quiet;
    return settled;
  });
}

interface AxeNode {
  target: unknown[];
  html: string;
  failureSummary?: string;
}
interface AxeViolation {
  id: string;
  impact: 'minor' | 'moderate' | 'serious' | 'critical' | null;
  help: string;
  helpUrl: string;
  nodes: AxeNode[];
}

let axeSource: Promise<string> | undefined;

/**
 * Runs axe-core on the page as it is and fails on serious or critical
 * violations, listing each rule with the elements it found. Returns the minor
 * and moderate ones (for a diagnostic). axe is evaluated through the DevTools
 * protocol, which the page's CSP (`script-src 'self'`, no inline scripts) does
 * not govern: an injected <script> tag would be refused, as it should be.
 */
export async function checkA11y(
  page: Page,
  label: string,
  options: { exclude?: string[] } = {},
): Promise<AxeViolation[]> {
  // A tooltip the pointer left open (fading in or out) is the pointer's, not the page's: out of the way.
  await page.mouse.move(0, 0);
  await waitFor(
    'hover tooltips to close',
    async () => (await page.locator('[role="tooltip"]').count()) === 0,
  );
  await settle(page);
  axeSource ??= readFile(join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  const source = await axeSource;
  if (!(await page.evaluate(() => (globalThis as unknown as InPage).axe !== undefined)))
    await page.evaluate(source);
  const violations = await page.evaluate(async (exclude: string[]) => {
    const { axe, document } = globalThis as unknown as InPage;
    const context = exclude.length > 0 ? { exclude: exclude.map((s) => [s]) } : document;
    const result = await axe!.run(context, { resultTypes: ['violations'] });
    return result.violations;
  }, options.exclude ?? []);
  const all = violations as AxeViolation[];
  const severe = all.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const describe = (v: AxeViolation) =>
    [
      `  [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})`,
      ...v.nodes
        .slice(0, 5)
        .map(
          (n) =>
            `      ${n.target.join(' ')}\n        ${n.html.slice(0, 160)}\n        ${(n.failureSummary ?? '').split('\n').slice(0, 2).join(' ')}`,
        ),
      ...(v.nodes.length > 5 ? [`      … and ${v.nodes.length - 5} more`] : []),
    ].join('\n');
  assert.equal(
    severe.length,
    0,
    `Accessibility of ${label} (${page.url()}): ${severe.length} serious or critical violation(s)\n${severe.map(describe).join('\n')}`,
  );
  return all;
}

/**
 * Saves a picture of the page as it is (after it settled) to
 * .test-cache/screenshots/<name>.png on every run; with FERRY_SCREENSHOTS=1 also
 * to docs/screenshots/<name>.png, the committed pictures the README shows.
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  assert.match(name, /^[a-z0-9-]+$/, 'screenshot names are lower-case words joined by dashes');
  await settle(page);
  await mkdir(SCREENSHOTS_CACHE, { recursive: true });
  const path = join(SCREENSHOTS_CACHE, `${name}.png`);
  await page.screenshot({ path, animations: 'disabled', caret: 'hide' });
  if (process.env['FERRY_SCREENSHOTS'] === '1') {
    await mkdir(SCREENSHOTS_DOCS, { recursive: true });
    await copyFile(path, join(SCREENSHOTS_DOCS, `${name}.png`));
  }
  return path;
}
