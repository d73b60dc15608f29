import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { waitFor } from '../helpers/time.ts';
import {
  addMember,
  addTenant,
  type BrowserApp,
  checkA11y,
  expectNoProblems,
  OWNER,
  openApp,
  pickOption,
  screenshot,
  setupThroughApi,
  signIn,
  waitForPath,
  waitForShell,
} from './helpers/browser.ts';
import type { InPage, PageElement } from './helpers/dom.ts';

// Every main page of the app in a real browser against a real `ferry start`,
// with data seeded through the API: each page settles, has no serious or
// critical accessibility violations, causes no console errors, CSP violations
// or unexpected error answers, and is photographed. Then what the pages promise:
// field errors from the API next to the field, a viewer without edit controls
// and told why an edit page is refused, the cron preview following the typing,
// deep links that survive reload, and German.

const VIEWER = { email: 'victor@example.com', password: 'viewer-password-1', name: 'Victor Viewer' };

interface Seeded {
  reportId: string;
  reportName: string;
  brokenReportId: string;
  connectionId: string;
  scheduleId: string;
  scheduleName: string;
  succeededRunId: string;
  failedRunId: string;
}

describe('the main pages', () => {
  let app: BrowserApp;
  let page: Page;
  let key: string;
  let data: Seeded;

  before(async () => {
    app = await openApp();
    page = app.page;
    key = (await setupThroughApi(app)).apiKey;
    data = await seed(app, key);
    await addMember(app, key, { ...VIEWER, role: 'viewer' });
    await addTenant(app, key, { name: 'Operations', ownerEmail: OWNER.email });
    await signIn(page, OWNER);
  });
  after(() => app?.close());

  test('reports: the list', async () => {
    await follow(navLink(page, 'Reports'), '/reports');
    await heading(page, 'Reports');
    await page.getByTestId('reports-table').getByRole('link', { name: data.reportName }).waitFor();
    await checkA11y(page, 'the reports list');
    await screenshot(page, 'reports');
    expectNoProblems(page);
  });

  test('reports: the editor with a preview, and the export drawer with a finished export', async () => {
    await follow(
      page.getByTestId('reports-table').getByRole('link', { name: data.reportName }),
      `/reports/${data.reportId}`,
    );
    await heading(page, data.reportName);
    await page.getByRole('button', { name: 'Run preview' }).click();
    await page.getByTestId('preview-grid').waitFor();
    assert.match((await page.getByTestId('preview-count').textContent()) ?? '', /\d+ rows?/);
    await checkA11y(page, 'the report editor with a preview');
    // The picture shows the preview: its grid in the middle of the window.
    await page
      .getByTestId('preview-grid')
      .evaluate((el: PageElement & { scrollIntoView(options: unknown): void }) =>
        el.scrollIntoView({ block: 'center' }),
      );
    await screenshot(page, 'report-editor');
    expectNoProblems(page);

    await page.getByTestId('export-now').click();
    const drawer = page.getByRole('dialog', { name: `Export "${data.reportName}" now` });
    await drawer.getByRole('button', { name: 'Run export' }).click();
    await drawer.getByTestId('download-link').waitFor();
    await checkA11y(page, 'the export drawer after an export');
    await screenshot(page, 'export-drawer');

    // Check the format on the first rows, without a file: CSV fits, and shows its first lines.
    const check = drawer.getByTestId('format-check');
    await check.getByRole('button', { name: 'Check on the first rows' }).click();
    await check.locator('[data-ok="true"]').waitFor();
    assert.match(
      (await check.locator('pre, code').last().textContent()) ?? '',
      /^[^\n]+,/,
      'the header line',
    );
    // DATEV needs a mapping this report cannot give: the check names the field.
    await pickOption(
      drawer.getByTestId('format-select'),
      page.getByRole('option', { name: 'DATEV (EXTF Buchungsstapel)' }),
    );
    await drawer
      .locator('input[data-option="consultantNumber"], [data-option="consultantNumber"] input')
      .first()
      .fill('29098');
    await drawer
      .locator('input[data-option="clientNumber"], [data-option="clientNumber"] input')
      .first()
      .fill('55003');
    await check.getByRole('button', { name: 'Check on the first rows' }).click();
    const failed = check.locator('[data-ok="false"]');
    await failed.waitFor();
    assert.match((await failed.textContent()) ?? '', /A run would fail.*field Umsatz: is required/s);
    await checkA11y(page, 'the export drawer with a failed format check');
    await page.keyboard.press('Escape');
    await drawer.waitFor({ state: 'hidden' });
    expectNoProblems(page);
  });

  test('schedules: the list and the editor', async () => {
    await follow(navLink(page, 'Schedules'), '/schedules');
    await heading(page, 'Schedules');
    await page.getByRole('link', { name: data.scheduleName }).first().waitFor();
    await checkA11y(page, 'the schedules list');
    await screenshot(page, 'schedules');
    expectNoProblems(page);

    await follow(
      page.getByRole('link', { name: data.scheduleName }).first(),
      `/schedules/${data.scheduleId}`,
    );
    await heading(page, data.scheduleName);
    await page.getByTestId('next-runs').locator('li').first().waitFor();
    await checkA11y(page, 'the schedule editor');
    await screenshot(page, 'schedule-editor');
    expectNoProblems(page);
  });

  test('the cron field: its description and next runs follow the typing', async () => {
    await follow(navLink(page, 'Schedules'), '/schedules');
    await follow(page.getByRole('link', { name: 'New schedule' }), '/schedules/new');
    await heading(page, 'New schedule');
    await pickOption(
      page.getByRole('combobox', { name: 'Repeat' }),
      page.getByRole('option', { name: 'Custom (cron)' }),
    );
    const cron = page.getByLabel('Cron expression', { exact: true });
    const description = page.getByTestId('cron-description');
    const nextRuns = page.getByTestId('next-runs');

    const shown = async () => ({
      description: ((await description.textContent()) ?? '').trim(),
      next: ((await nextRuns.textContent()) ?? '').trim(),
      error: (await description.getAttribute('data-error')) === 'true',
    });
    let before = await waitFor('the first description', async () => {
      const now = await shown();
      return now.description !== '' && !/Loading/.test(now.description) && now.next.length > 1 && now;
    });
    for (const expression of ['*/20 6-18 * * 1-5', '15 7 1,15 * *']) {
      await cron.fill(expression);
      // Each answer differs from the one before: a new sentence and other times.
      const after = await waitFor(`the preview of ${expression}`, async () => {
        const now = await shown();
        return (
          !now.error &&
          now.description !== '' &&
          now.description !== before.description &&
          now.next !== before.next &&
          now.next.length > 1 &&
          !/Loading/.test(now.description) &&
          now
        );
      });
      assert.equal(await nextRuns.locator('li').count(), 5, 'five next runs');
      before = after;
    }
    assert.match(before.description, /07:15/);

    // A wrong expression is refused as typed, naming what is wrong; no next runs then.
    await cron.fill('0 25 * * *');
    await waitFor('the error of a wrong expression', async () => (await shown()).error);
    assert.match((await shown()).description, /hour/i);
    assert.equal((await shown()).next, '–');
    expectNoProblems(page, { allow: ['POST /api/v1/cron/preview 400'] });
    await checkA11y(page, 'the new schedule page with a wrong cron expression');
  });

  test('runs: the list, a filtered list and a run page survive reload', async () => {
    await follow(navLink(page, 'Runs'), '/runs');
    await heading(page, 'Runs');
    const rows = page.locator('tr[data-run-id]');
    await rows.first().waitFor();
    await checkA11y(page, 'the runs list');
    await screenshot(page, 'runs');

    // Failed only: the filter goes into the address, and a reload keeps it.
    await page.getByRole('switch', { name: 'Failed only' }).press('Space');
    await waitFor('the filter in the address', () => new URL(page.url()).searchParams.get('failed') === '1');
    await waitFor('only the failed run', async () => (await runIds(rows)).join() === data.failedRunId);
    const filtered = pathAndQuery(page);
    await page.reload();
    await waitForShell(page);
    await waitFor(
      'the failed run after reload',
      async () => (await runIds(rows)).join() === data.failedRunId,
    );
    assert.equal(pathAndQuery(page), filtered);
    assert.equal(await page.getByRole('switch', { name: 'Failed only' }).isChecked(), true);
    expectNoProblems(page);

    await page.goto(`/runs/${data.succeededRunId}`);
    await heading(page, `Run of ${data.reportName}`);
    await page.getByTestId('run-status').locator('[data-status="succeeded"]').waitFor();
    await checkA11y(page, 'a succeeded run');
    await screenshot(page, 'run');
    await page.reload();
    await heading(page, `Run of ${data.reportName}`);
    assert.equal(new URL(page.url()).pathname, `/runs/${data.succeededRunId}`);
    expectNoProblems(page);

    await page.goto(`/runs/${data.failedRunId}`);
    const error = page.getByTestId('run-error');
    await error.waitFor();
    assert.match(
      (await error.textContent()) ?? '',
      /The database refused the report’s query\. \(stage: Query\)/,
    );
    // The database's own words are folded away under Details.
    await error.getByRole('button', { name: /^Details/ }).click();
    await error.getByText('division by zero').waitFor();
    await checkA11y(page, 'a failed run');
    expectNoProblems(page);
  });

  test('connections: the list and the demo connection, tested', async () => {
    await follow(navLink(page, 'Connections'), '/connections');
    await heading(page, 'Connections');
    const demo = page.getByRole('link', { name: /demo/i }).first();
    await demo.waitFor();
    await checkA11y(page, 'the connections list');
    await screenshot(page, 'connections');
    expectNoProblems(page);

    await follow(demo, `/connections/${data.connectionId}`);
    await page.getByRole('heading', { level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.getByTestId('connection-test-result').waitFor();
    await checkA11y(page, 'the demo connection with its test result');
    await screenshot(page, 'connection');
    expectNoProblems(page);
  });

  test('a field error from the API is shown next to its field', async () => {
    // Not empty passes the page's check; only the server knows that a host has no spaces.
    await page.goto('/connections/new');
    await heading(page, 'New connection');
    await field(page, 'Name').fill('Warehouse');
    await field(page, 'Host').fill('db server');
    await field(page, 'Database').fill('sales');
    await field(page, 'User').fill('reader');
    const sent = page.waitForResponse(
      (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/v1/connections',
    );
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    const answer = await sent;
    assert.equal(answer.status(), 400);
    const problem = (await answer.json()) as { errors: Array<{ path: string; message: string }> };
    const hostError = problem.errors.find((e) => e.path === 'config.host');
    assert.ok(hostError, `the API names the host: ${JSON.stringify(problem.errors)}`);

    const host = field(page, 'Host');
    await host.and(page.locator('[aria-invalid="true"]')).waitFor();
    assert.equal(await errorOf(host), hostError.message);
    assert.notEqual(await field(page, 'Name').getAttribute('aria-invalid'), 'true');
    assert.equal(new URL(page.url()).pathname, '/connections/new', 'nothing was created');
    expectNoProblems(page, { allow: ['POST /api/v1/connections 400'] });
    await checkA11y(page, 'the connection form with a field error');
  });

  test('workspace and admin pages', async () => {
    const pages: Array<[path: string, title: string, name: string, content: (p: Page) => Locator]> = [
      ['/workspace/members', 'Members', 'members', (p) => p.getByText(VIEWER.email).first()],
      ['/workspace/api-keys', 'API keys', 'api-keys', (p) => p.getByRole('table', { name: 'API keys' })],
      ['/workspace/audit', 'Audit log', 'audit', (p) => p.locator('.mantine-Accordion-control').first()],
      ['/workspace/stats', 'Statistics', 'stats', (p) => p.locator('.recharts-surface').first()],
      ['/admin/tenants', 'Tenants', 'tenants', (p) => p.getByText('Operations').first()],
    ];
    for (const [path, title, name, content] of pages) {
      await follow(navLink(page, title), path);
      await heading(page, title);
      await content(page).waitFor();
      await checkA11y(page, `the ${name} page`);
      await screenshot(page, name);
      expectNoProblems(page);
    }
  });

  test('a viewer sees no edit controls, and an edit page says why it is refused', async () => {
    const viewer = await app.newPage();
    try {
      await signIn(viewer, VIEWER);
      const readOnly = viewer.getByText(
        'Read only: your role (Viewer) may look but not change anything here.',
      );

      await follow(
        viewer.getByTestId('reports-table').getByRole('link', { name: data.reportName }),
        `/reports/${data.reportId}`,
      );
      await heading(viewer, data.reportName);
      await readOnly.waitFor();
      for (const name of ['Save', 'Delete', 'Duplicate', 'Export now', 'Schedule'])
        assert.equal(await viewer.getByRole('button', { name, exact: true }).count(), 0, `no ${name} button`);
      assert.equal(await viewer.getByRole('link', { name: 'Schedule', exact: true }).count(), 0);
      // Looking is allowed: the saved report can be previewed.
      await viewer.getByRole('button', { name: 'Run preview' }).click();
      await viewer.getByTestId('preview-grid').waitFor();

      await follow(navLink(viewer, 'Schedules'), '/schedules');
      await follow(
        viewer.getByRole('link', { name: data.scheduleName }).first(),
        `/schedules/${data.scheduleId}`,
      );
      await heading(viewer, data.scheduleName);
      await readOnly.waitFor();
      for (const name of ['Save', 'Save and run now', 'Delete', 'Run now', 'Pause'])
        assert.equal(await viewer.getByRole('button', { name, exact: true }).count(), 0, `no ${name} button`);
      assert.equal(await field(viewer, 'Name').isDisabled(), true);
      await checkA11y(viewer, 'a schedule seen by a viewer');

      for (const [path, title] of [
        ['/reports/new', 'New report'],
        ['/schedules/new', 'New schedule'],
        ['/connections/new', 'New connection'],
      ] as const) {
        await viewer.goto(path);
        await heading(viewer, title);
        const notice = viewer.getByRole('alert').filter({ hasText: 'may not do this' });
        await notice.waitFor();
        assert.match((await notice.textContent()) ?? '', /Your role \(Viewer\) may not do this/);
        assert.equal(await viewer.getByRole('button', { name: 'Save', exact: true }).count(), 0);
      }
      expectNoProblems(viewer);
    } finally {
      await viewer.context().close();
    }
  });

  test('in German, a page shows its heading and buttons in German', async () => {
    await follow(navLink(page, 'Schedules'), '/schedules');
    await follow(page.getByRole('link', { name: 'New schedule' }), '/schedules/new');
    await heading(page, 'New schedule');
    await page.getByTestId('user-menu').click();
    await page.getByRole('menuitem', { name: 'Deutsch' }).click();
    try {
      await heading(page, 'Neuer Zeitplan');
      await page.getByRole('button', { name: 'Speichern', exact: true }).waitFor();
      await page.getByRole('button', { name: 'Speichern und jetzt ausführen' }).waitFor();
      await page.getByRole('link', { name: 'Abbrechen' }).waitFor();
      await page.getByRole('heading', { name: '1. Was' }).waitFor();
      await page.getByRole('combobox', { name: 'Wiederholung' }).waitFor();
      assert.equal(await page.getByRole('button', { name: 'Save', exact: true }).count(), 0);
      await checkA11y(page, 'the new schedule page in German');
      expectNoProblems(page);
    } finally {
      await page.getByTestId('user-menu').click();
      await page.getByRole('menuitem', { name: 'English' }).click();
      await heading(page, 'New schedule');
    }
  });
});

/** A report from a template, a broken one, two schedules, a run of one of them, and a failed export. */
async function seed(app: BrowserApp, key: string): Promise<Seeded> {
  const report = await app.api('POST', '/api/v1/templates/sales-by-day-and-region/use', { key, body: {} });
  assert.equal(report.status, 201, report.text);
  const broken = await app.api('POST', '/api/v1/reports', {
    key,
    body: {
      name: 'Margin per unit',
      connectionId: report.body.connectionId,
      sql: 'SELECT 1 / 0 AS margin',
      parameters: [],
    },
  });
  assert.equal(broken.status, 201, broken.text);
  const schedule = await app.api('POST', '/api/v1/schedules', {
    key,
    body: {
      name: 'Sales every weekday',
      reportId: report.body.id,
      preset: { kind: 'weekdays', time: '08:00' },
      timezone: 'Europe/Berlin',
      format: 'xlsx',
    },
  });
  assert.equal(schedule.status, 201, schedule.text);
  const monthEnd = await app.api('POST', '/api/v1/schedules', {
    key,
    body: {
      name: 'Month-end sales for Bavaria',
      reportId: report.body.id,
      preset: { kind: 'monthly', day: 'last_business_day', time: '18:00' },
      calendar: { country: 'DE', region: 'BY' },
      timezone: 'Europe/Berlin',
      format: 'pdf',
    },
  });
  assert.equal(monthEnd.status, 201, monthEnd.text);
  const runNow = await app.api('POST', `/api/v1/schedules/${schedule.body.id}/run`, { key });
  assert.equal(runNow.status, 202, runNow.text);
  const succeeded = await finished(app, key, runNow.body.id);
  assert.equal(succeeded.status, 'succeeded', JSON.stringify(succeeded));
  const started = await app.api('POST', '/api/v1/exports', {
    key,
    body: { reportId: broken.body.id, format: 'csv' },
  });
  assert.equal(started.status, 202, started.text);
  const failed = await finished(app, key, started.body.id);
  assert.equal(failed.status, 'failed', JSON.stringify(failed));
  return {
    reportId: report.body.id,
    reportName: report.body.name,
    brokenReportId: broken.body.id,
    connectionId: report.body.connectionId,
    scheduleId: schedule.body.id,
    scheduleName: schedule.body.name,
    succeededRunId: succeeded.id,
    failedRunId: failed.id,
  };
}

async function finished(
  app: BrowserApp,
  key: string,
  runId: string,
): Promise<{ id: string; status: string }> {
  return waitFor(`run ${runId} to finish`, async () => {
    const run = await app.api('GET', `/api/v1/runs/${runId}`, { key });
    return ['succeeded', 'failed', 'cancelled'].includes(run.body.status) && run.body;
  });
}

/**
 * Goes to a page as a user does, by a link (no reload), and waits for its
 * address; then moves the pointer away, so that pictures and checks show the
 * page at rest rather than the link hovered.
 */
async function follow(link: Locator, path: string): Promise<void> {
  await link.click();
  await waitForPath(link.page(), path);
  await link.page().mouse.move(0, 0);
}

function navLink(page: Page, name: string): Locator {
  return page.getByRole('navigation').getByRole('link', { name, exact: true });
}

/** The page's main heading (h1) says `name`. */
async function heading(page: Page, name: string): Promise<void> {
  await page.getByRole('heading', { level: 1, name, exact: true }).waitFor();
}

/** A text field by its label (a required one's label ends in " *"). */
function field(page: Page, label: string): Locator {
  return page.getByRole('textbox', { name: new RegExp(`^${label}( \\*)?$`) });
}

function pathAndQuery(page: Page): string {
  const { pathname, search } = new URL(page.url());
  return pathname + search;
}

async function runIds(rows: Locator): Promise<string[]> {
  return rows.evaluateAll((els: PageElement[]) => els.map((el) => el.getAttribute('data-run-id') ?? ''));
}

/** The error text a field points at with aria-describedby. */
async function errorOf(field: Locator): Promise<string> {
  return field.evaluate((el: PageElement) => {
    const { document } = globalThis as unknown as InPage;
    const ids = (el.getAttribute('aria-describedby') ?? '').split(/\s+/).filter(Boolean);
    return ids
      .map((id) => document.getElementById(id))
      .filter((x) => x?.className.includes('error'))
      .map((x) => x?.textContent ?? '')
      .join(' ');
  });
}
