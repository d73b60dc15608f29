import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { waitFor } from '../helpers/time.ts';
import {
  addMember,
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
} from './helpers/browser.ts';

// Delivery in the browser: an e-mail destination made through its form, listed,
// tested (no SMTP server is configured, so the test must say it failed and why)
// and attached to a schedule in the editor; and a run whose webhook delivery
// failed (a local receiver answering 404) showing the failure, "Partly
// delivered", the Deliver stage and a Retry that really sends again.

const VIEWER = { email: 'victor@example.com', password: 'viewer-password-1', name: 'Victor Viewer' };

describe('destinations and deliveries', () => {
  let app: BrowserApp;
  let page: Page;
  let key: string;
  let reportId: string;
  let scheduleId: string;
  let receiver: Server;
  let receiverUrl: string;
  let received = 0;

  before(async () => {
    receiver = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        received += 1;
        response.writeHead(404, { 'content-type': 'text/plain' }).end('no such hook');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    // Loopback is refused to deliveries unless the operator allows it.
    app = await openApp({ env: { FERRY_DELIVERY_ALLOW_PRIVATE: '127.0.0.1' } });
    page = app.page;
    key = (await setupThroughApi(app)).apiKey;
    const report = await app.api('POST', '/api/v1/templates/sales-by-day-and-region/use', { key, body: {} });
    assert.equal(report.status, 201, report.text);
    reportId = report.body.id;
    const schedule = await app.api('POST', '/api/v1/schedules', {
      key,
      body: {
        name: 'Sales every weekday',
        reportId,
        preset: { kind: 'weekdays', time: '08:00' },
        timezone: 'Europe/Berlin',
        format: 'csv',
      },
    });
    assert.equal(schedule.status, 201, schedule.text);
    scheduleId = schedule.body.id;
    await signIn(page, OWNER);
  });
  after(async () => {
    await app?.close();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  test('an e-mail destination: made in its form, listed, tested, attached to a schedule', async () => {
    await follow(
      page.getByRole('navigation').getByRole('link', { name: 'Destinations', exact: true }),
      '/destinations',
    );
    await heading(page, 'Destinations');
    await page.getByRole('heading', { name: 'No destinations yet' }).waitFor();
    await checkA11y(page, 'the destinations page, empty');
    expectNoProblems(page);

    await follow(
      page.getByRole('link', { name: 'E-mail: Set up and send a test' }),
      '/destinations/new?type=email',
    );
    await heading(page, 'New destination');
    await field(page, 'Name').fill('Finance team');
    await field(page, 'To').fill('finance@example.com');
    await checkA11y(page, 'the new e-mail destination form');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await waitForPath(page, /^\/destinations\/[0-9a-f-]{36}$/);
    const destinationId = new URL(page.url()).pathname.split('/').pop() ?? '';
    await heading(page, 'Finance team');
    const saved = await app.api('GET', `/api/v1/destinations/${destinationId}`, { key });
    assert.equal(saved.status, 200, saved.text);
    assert.deepEqual(saved.body.settings.to, ['finance@example.com']);

    // No SMTP server is configured: the test fails, and the page says so and why.
    await page.getByRole('button', { name: 'Send test' }).click();
    const outcome = page.getByTestId('destination-test-result');
    await outcome.waitFor();
    assert.equal(await outcome.getAttribute('data-ok'), 'false');
    const said = (await outcome.textContent()) ?? '';
    assert.match(said, /The test failed/);
    assert.match(said, /not configured.*SMTP_HOST/s);
    await checkA11y(page, 'a destination with a failed test');
    await screenshot(page, 'destination-email');
    expectNoProblems(page);

    await follow(page.getByRole('link', { name: 'Destinations', exact: true }).first(), '/destinations');
    const row = page.locator('tr[data-destination="Finance team"]');
    await row.waitFor();
    const rowText = (await row.textContent()) ?? '';
    assert.match(rowText, /E-mail/);
    assert.match(rowText, /finance@example\.com/);
    assert.match(rowText, /Failed/);
    assert.match(rowText, /No schedule/);
    await checkA11y(page, 'the destinations list');
    await screenshot(page, 'destinations');
    expectNoProblems(page);

    // Attached to a schedule in the editor's "Where" step.
    await page.goto(`/schedules/${scheduleId}`);
    await heading(page, 'Sales every weekday');
    const where = page.getByRole('region', { name: '3. Where' });
    await pickOption(
      where.getByLabel('Destinations', { exact: true }),
      page.getByRole('option', { name: /Finance team/ }),
    );
    await page.keyboard.press('Escape');
    await checkA11y(page, 'the schedule editor with a destination');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await waitFor('the schedule to deliver to the destination', async () => {
      const schedule = await app.api('GET', `/api/v1/schedules/${scheduleId}`, { key });
      return schedule.body.destinationIds?.includes(destinationId);
    });
    expectNoProblems(page);

    await page.goto('/destinations');
    await row.getByRole('link', { name: 'Sales every weekday' }).waitFor();
    expectNoProblems(page);

    // The workspace's allowed recipients, set on the same page, refuse an address outside them.
    const policy = page.getByRole('form', { name: 'Allowed recipients' });
    await policy.getByRole('textbox', { name: 'E-mail domains' }).fill('example.com');
    await policy.getByRole('button', { name: 'Save allowed recipients' }).click();
    await waitFor('the allowed e-mail domains to be saved', async () => {
      const saved = await app.api('GET', '/api/v1/delivery-policy', { key });
      return saved.body.allowedEmailDomains?.join() === 'example.com';
    });
    await page.goto('/destinations/new?type=email');
    await field(page, 'Name').fill('Auditors');
    await field(page, 'To').fill('audit@elsewhere.org');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    const refused = page.getByTestId('destination-form-error');
    await refused.waitFor();
    assert.match((await refused.textContent()) ?? '', /audit@elsewhere\.org is outside the e-mail domains/);
    assert.equal(new URL(page.url()).pathname, '/destinations/new');
    expectNoProblems(page, { allow: ['POST /api/v1/destinations 400'] });
  });

  test('a failed delivery on the run page: the error, Partly delivered, the Deliver stage, Retry', async () => {
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const destination = await app.api('POST', '/api/v1/destinations', {
      key,
      body: {
        name: 'Receiver',
        type: 'webhook',
        settings: { url: receiverUrl, mode: 'event' },
        secrets: { secrets: [secret] },
      },
    });
    assert.equal(destination.status, 201, destination.text);
    const started = await app.api('POST', '/api/v1/exports', {
      key,
      body: { reportId, format: 'csv', destinationIds: [destination.body.id] },
    });
    assert.equal(started.status, 202, started.text);
    const runId: string = started.body.id;
    const failed = await waitFor(`the delivery of run ${runId} to fail`, async () => {
      const run = await app.api('GET', `/api/v1/runs/${runId}`, { key });
      return run.body.deliverySummary?.failed === 1 && run.body;
    });
    assert.equal(failed.status, 'succeeded');
    assert.ok(received >= 1, 'the receiver was called');

    await page.goto(`/runs/${runId}`);
    await page.getByTestId('run-partly-delivered').waitFor();
    assert.match(
      (await page.getByTestId('run-partly-delivered').textContent()) ?? '',
      /File ready · 0 of 1 destinations delivered/,
    );
    assert.equal(
      await page.getByTestId('run-status').locator('[data-status]').getAttribute('data-status'),
      'partly_delivered',
    );
    assert.match((await page.getByTestId('run-status').textContent()) ?? '', /Partly delivered/);
    const deliver = page.getByTestId('run-stages').locator('[data-stage="deliver"]');
    assert.equal(await deliver.getAttribute('data-state'), 'failed');

    const delivery = page.locator('tr[data-delivery="Receiver"]');
    await delivery.waitFor();
    assert.equal(await delivery.getAttribute('data-status'), 'failed');
    assert.match((await delivery.textContent()) ?? '', /Failed/);
    const attempts = failed.deliveries[0].attempts;
    assert.equal(
      (await delivery.getByTestId('delivery-attempts').textContent())?.trim(),
      `${attempts} of ${failed.deliveries[0].maxAttempts}`,
    );
    assert.match((await delivery.getByTestId('delivery-error').textContent()) ?? '', /404/);
    await checkA11y(page, 'a run with a failed delivery');
    await screenshot(page, 'run-deliveries');
    expectNoProblems(page);

    const before = received;
    await delivery.getByRole('button', { name: 'Retry the delivery to Receiver' }).click();
    await waitFor('the receiver to be called again', () => received > before);
    await waitFor('the retried delivery to fail again', async () => {
      const run = await app.api('GET', `/api/v1/runs/${runId}`, { key });
      return run.body.deliveries[0].status === 'failed' && run.body.deliveries[0].attempts > attempts;
    });
    // The page follows the delivery it retried.
    await waitFor('the page to show the new attempt', async () =>
      ((await delivery.getByTestId('delivery-attempts').textContent()) ?? '').startsWith(
        `${attempts + 1} of`,
      ),
    );
    expectNoProblems(page);

    await page.goto('/runs');
    const listed = page.locator(`tr[data-run-id="${runId}"]`);
    await listed.waitFor();
    assert.equal((await listed.getByTestId('delivery-count').textContent())?.trim(), '0 ✓ 1 ✗');
    assert.match((await listed.textContent()) ?? '', /Partly delivered/);
    await checkA11y(page, 'the runs list with deliveries');
    expectNoProblems(page);

    // The webhook's signing secret is write-only: the form says it is set and never shows it.
    await page.goto(`/destinations/${destination.body.id}`);
    await heading(page, 'Receiver');
    const secretField = page.getByRole('textbox', { name: /^Signing secrets/ });
    assert.equal(await secretField.inputValue(), '');
    await page.locator('[data-secret-set="secrets"]').waitFor();
    assert.equal(await page.getByText(secret).count(), 0);
    await checkA11y(page, 'a webhook destination with its secret set');
    expectNoProblems(page);
  });

  test('bursting: a recipients query set in the editor, and the burst on the run pages', async () => {
    await page.goto(`/schedules/${scheduleId}`);
    await heading(page, 'Sales every weekday');
    const where = page.getByRole('region', { name: '3. Where' });
    await where.getByRole('radio', { name: 'One run per recipient (bursting)' }).check();
    const sql = "SELECT email FROM (VALUES ('ana@example.com'), ('ben@example.com')) AS r(email)";
    await where.getByRole('textbox', { name: 'Recipients query' }).fill(sql);
    await checkA11y(page, 'the schedule editor with a recipients query');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await waitFor('the schedule to burst', async () => {
      const schedule = await app.api('GET', `/api/v1/schedules/${scheduleId}`, { key });
      return schedule.body.recipientsSql === sql;
    });
    expectNoProblems(page);

    const started = await app.api('POST', `/api/v1/schedules/${scheduleId}/run`, { key });
    assert.equal(started.status, 202, started.text);
    const leadId = started.body.id as string;
    await waitFor('the burst to read its recipients', async () => {
      const lead = await app.api('GET', `/api/v1/runs/${leadId}`, { key });
      return lead.body.status === 'succeeded';
    });
    await page.goto(`/runs/${leadId}`);
    await follow(page.getByRole('link', { name: '2 recipients’ runs' }), '/runs');
    assert.equal(new URL(page.url()).searchParams.get('burst'), leadId);
    await page.getByTestId('burst-filter').waitFor();
    const rows = page.locator('tbody tr');
    await waitFor('both recipients’ runs listed', async () => (await rows.count()) === 2);
    await checkA11y(page, 'the runs of one burst');
    await rows.first().getByRole('link').first().click();
    await waitForPath(page, /^\/runs\/[0-9a-f-]{36}$/);
    await page.getByText(/^(ana|ben)@example\.com · all recipients’ runs$/).waitFor();
    await page.getByRole('link', { name: 'all recipients’ runs' }).waitFor();
    expectNoProblems(page);

    // Back to one run for everyone: the schedule no longer bursts.
    await page.goto(`/schedules/${scheduleId}`);
    await heading(page, 'Sales every weekday');
    await page
      .getByRole('region', { name: '3. Where' })
      .getByRole('radio', { name: /^One run, to the destinations/ })
      .check();
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await waitFor('the schedule to stop bursting', async () => {
      const schedule = await app.api('GET', `/api/v1/schedules/${scheduleId}`, { key });
      return schedule.body.recipientsSql === null;
    });
  });

  test('a viewer reads destinations and the allowed recipients, and may not add one', async () => {
    await addMember(app, key, { ...VIEWER, role: 'viewer' });
    const viewer = await app.newPage();
    await signIn(viewer, VIEWER);
    await viewer.goto('/destinations');
    await heading(viewer, 'Destinations');
    await viewer.locator('tr[data-destination="Finance team"]').waitFor();
    await viewer.getByText(/^Read only/).waitFor();
    assert.equal(await viewer.getByRole('link', { name: 'Add destination' }).count(), 0);
    assert.equal((await viewer.getByTestId('policy-domains').textContent())?.trim(), 'example.com');
    await checkA11y(viewer, 'the destinations page for a viewer');

    await viewer.getByRole('link', { name: 'Finance team' }).click();
    await heading(viewer, 'Finance team');
    assert.equal(await viewer.getByRole('button', { name: 'Send test' }).count(), 0);
    assert.equal(await viewer.getByRole('button', { name: 'Save', exact: true }).count(), 0);
    assert.ok(await field(viewer, 'Name').isDisabled());

    await viewer.goto('/destinations/new');
    await heading(viewer, 'New destination');
    await viewer.getByText(/may not do this/).waitFor();
    assert.equal(await viewer.getByRole('textbox', { name: /^Name/ }).count(), 0);
    expectNoProblems(viewer);
  });
});

async function follow(link: Locator, path: string): Promise<void> {
  await link.click();
  await waitForPath(link.page(), path);
  await link.page().mouse.move(0, 0);
}

async function heading(page: Page, name: string): Promise<void> {
  await page.getByRole('heading', { level: 1, name, exact: true }).waitFor();
}

/** A text field by its label (a required one's label ends in " *"). */
function field(page: Page, label: string): Locator {
  return page.getByRole('textbox', { name: new RegExp(`^${label}( \\*)?$`) });
}
