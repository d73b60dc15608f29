import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import type { Page } from 'playwright-core';
import { scaled } from '../helpers/time.ts';
import {
  type BrowserApp,
  callAs,
  checkA11y,
  expectNoProblems,
  openApp,
  pickOption,
  screenshot,
  settle,
  setupThroughUi,
  waitForPath,
} from './helpers/browser.ts';

// The journey of a new user, in a real browser against a real `ferry start`:
// set up → a report from a template → its SQL edited to use a parameter →
// preview → a schedule from a preset → run now → progress → download, and the
// downloaded file holds exactly the rows the preview showed.

const SQL = `SELECT id, name, country, credit_limit, created_at
  FROM customers
 WHERE id >= {{min_id}} AND id < {{min_id}} + 12
 ORDER BY id`;

interface Preview {
  columns: Array<{ name: string; type: string }>;
  rows: unknown[][];
  parameters: Record<string, unknown>;
}

/** A preview cell as the CSV writes it: NULL empty, everything else its text. */
const asCsvText = (v: unknown) => (v === null || v === undefined ? '' : String(v));

describe('a new user’s journey', () => {
  let app: BrowserApp;
  let page: Page;
  let reportPath = '';
  let preview: Preview;

  before(async () => {
    app = await openApp();
    page = app.page;
  });
  after(() => app?.close());

  test('setup creates the workspace and lands on the reports page', async () => {
    await setupThroughUi(page);
    await waitForPath(page, '/reports');
    expectNoProblems(page);
  });

  test('a report from a template, its SQL edited to use a parameter, saved', async () => {
    // The empty reports page offers the templates on the demo data.
    const card = page.locator('[data-template="customer-list"], .mantine-Card-root', {
      hasText: 'Customer list',
    });
    await card.first().getByRole('button', { name: 'Use this template' }).click();
    await waitForPath(page, /^\/reports\/[0-9a-f-]{36}/);
    reportPath = new URL(page.url()).pathname;

    // Replace the SQL in the CodeMirror editor as a user would: select all, type.
    const editor = page.getByTestId('sql-editor').locator('.cm-content');
    await editor.click();
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText(SQL);
    // Done typing: dismiss any completion list, as a user would before moving on.
    await page.keyboard.press('Escape');

    // {{min_id}} is found in the SQL and offered for declaration; the template's
    // {{country}} is no longer used and is removed.
    await page.getByRole('button', { name: 'Declare min_id' }).click();
    await page.getByRole('button', { name: 'Remove parameter country' }).click();
    const declaration = page.locator('[data-parameter-declaration="min_id"]');
    await declaration.getByLabel('Default').fill('7');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Report saved').first().waitFor();

    // The server holds what the page showed.
    const id = reportPath.split('/').pop();
    const saved = await callAs(page, 'GET', `/api/v1/reports/${id}`);
    assert.equal(saved.status, 200);
    assert.equal(saved.body.sql, SQL);
    assert.deepEqual(
      saved.body.parameters.map((p: { name: string; type: string; default?: unknown }) => [
        p.name,
        p.type,
        p.default,
      ]),
      [['min_id', 'integer', 7]],
    );
  });

  test('preview shows the rows with their types and the value the parameter resolved to', async () => {
    const answered = page.waitForResponse(
      (r) =>
        r.request().method() === 'POST' &&
        /\/api\/v1\/reports\/[^/]+\/preview$/.test(new URL(r.url()).pathname),
    );
    await page.getByRole('button', { name: 'Run preview' }).click();
    const response = await answered;
    assert.equal(response.status(), 200);
    preview = (await response.json()) as Preview;
    assert.equal(preview.rows.length, 12);
    assert.deepEqual(preview.parameters, { min_id: 7 });
    assert.equal(preview.rows[0]![0], 7);

    const grid = page.getByTestId('preview-grid');
    await grid.waitFor();
    // Every column with its type, and the first rows as the API returned them.
    for (const c of preview.columns) await grid.getByText(c.name, { exact: true }).first().waitFor();
    const firstRow = grid.getByTestId('preview-row').first();
    for (const cell of preview.rows[0]!.slice(0, 3))
      await firstRow.getByText(asCsvText(cell), { exact: true }).first().waitFor();
    await screenshot(page, 'journey-preview');
    expectNoProblems(page);
    await checkA11y(page, 'the report editor with a preview');
  });

  test('a schedule from a preset, saved and run now; its progress is watched live', async () => {
    await page.getByRole('link', { name: 'Schedule', exact: true }).click();
    await waitForPath(page, '/schedules/new');
    // The address changes before the schedules chunk has loaded: wait for the page itself.
    await page.getByRole('heading', { name: 'New schedule' }).waitFor();
    await page.getByRole('textbox', { name: /^Name/ }).fill('Customers every weekday');
    // A preset, as most users pick one: weekdays at a time, in the browser's zone.
    await pickOption(
      page.getByRole('combobox', { name: 'Repeat' }),
      page.getByRole('option', { name: 'Weekdays (Monday–Friday)' }),
    );
    await page
      .getByTestId('cron-description')
      .filter({ hasText: /Monday through Friday/ })
      .waitFor();
    await page.getByTestId('next-runs').waitFor();
    await screenshot(page, 'journey-schedule');

    await page.getByRole('button', { name: 'Save and run now' }).click();
    await waitForPath(page, /^\/schedules\/[0-9a-f-]{36}/);
    const runId = new URL(page.url()).searchParams.get('run');
    assert.match(runId ?? '', /^[0-9a-f-]{36}$/, page.url());
    // The status comes from the server-sent events: queued or running, then succeeded.
    await page
      .locator('[data-testid="run-status"][data-status="succeeded"]')
      .first()
      .waitFor({ timeout: scaled(60_000) });
    expectNoProblems(page);

    const schedules = await callAs(page, 'GET', '/api/v1/schedules');
    // The workspace's own example (paused) and the new one.
    assert.deepEqual(
      schedules.body.items.map((s: { name: string; active: boolean }) => [s.name, s.active]).sort(),
      [
        ['Customers every weekday', true],
        ['Usage summary every Monday', false],
      ],
    );
    const made = schedules.body.items.find((s: { name: string }) => s.name === 'Customers every weekday');
    assert.match(made.cron, /1-5$/);

    // The run page, and the file downloaded from it.
    await page.goto(`/runs/${runId}`);
    await page.locator('[data-testid="run-status"][data-status="succeeded"]').first().waitFor();
    await settle(page);
    await screenshot(page, 'journey-run');
    await checkA11y(page, 'the run page');
    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Download' }).first().click();
    const file = await download;
    const path = await file.path();
    assert.ok(path, 'the browser saved the file');
    assert.match(file.suggestedFilename(), /\.csv$/);

    // The file's rows are the preview's rows, value for value, read by an independent CSV parser.
    const records = parseCsv(await readFile(path), { bom: true }) as string[][];
    assert.deepEqual(
      records[0],
      preview.columns.map((c) => c.name),
    );
    assert.deepEqual(
      records.slice(1),
      preview.rows.map((row) => row.map(asCsvText)),
    );
    expectNoProblems(page);
  });
});
