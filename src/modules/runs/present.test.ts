import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorLocationOf, errorStageOf, presentRun } from './present.ts';
import type { RunRow } from './repo.ts';

const row = (over: Partial<RunRow>): RunRow =>
  ({
    id: 'r',
    status: 'running',
    progress_rows: '0',
    progress_bytes: '0',
    expected_rows: null,
    created_at: new Date(0),
    started_at: null,
    finished_at: null,
    scheduled_for: null,
    row_count: null,
    file_size: null,
    checksum: null,
    cancel_requested_at: null,
    ...over,
  }) as RunRow;

test('percent: share of the expected rows while running, never 100 before the end; unknown without an estimate', () => {
  assert.equal(presentRun(row({ progress_rows: '50', expected_rows: '200' })).progress.percent, 25);
  assert.equal(presentRun(row({ progress_rows: '500', expected_rows: '200' })).progress.percent, 99);
  assert.equal(presentRun(row({ progress_rows: '5', expected_rows: '0' })).progress.percent, null);
  assert.equal(presentRun(row({ progress_rows: '5' })).progress.percent, null);
  assert.equal(presentRun(row({ status: 'queued', expected_rows: '10' })).progress.percent, null);
  assert.equal(presentRun(row({ status: 'succeeded', expected_rows: '10' })).progress.percent, 100);
});

test('the stage of an error, by its code; the place in the SQL only for a query error that names one', () => {
  assert.equal(errorStageOf('query'), 'query');
  assert.equal(errorStageOf('connection'), 'query');
  assert.equal(errorStageOf('transient'), 'query');
  assert.equal(errorStageOf('storage'), 'file');
  assert.equal(errorStageOf('lost'), null);
  assert.equal(errorStageOf(null), null);
  assert.deepEqual(errorLocationOf('query', 'column "x" does not exist (line 12, column 4)'), {
    line: 12,
    column: 4,
  });
  assert.equal(errorLocationOf('query', 'syntax error at end of input'), null);
  assert.equal(errorLocationOf('connection', 'refused (line 1, column 1)'), null);
});

test('retrying: queued again after a failed attempt, whose error is apart from the run; a fresh queued run is not', () => {
  const retrying = presentRun(
    row({ status: 'queued', attempts: 1, error: 'reset', error_code: 'network' } as Partial<RunRow>),
  );
  assert.equal(retrying.retrying, true);
  assert.equal(retrying.error, null);
  assert.equal(retrying.errorCode, null);
  assert.deepEqual(retrying.lastFailure, {
    attempt: 1,
    error: 'reset',
    errorCode: 'network',
    errorStage: 'query',
    errorLocation: null,
  });
  const fresh = presentRun(row({ status: 'queued', attempts: 0, error: null } as Partial<RunRow>));
  assert.equal(fresh.retrying, false);
  assert.equal(fresh.lastFailure, null);
  const failed = presentRun(row({ status: 'failed', attempts: 3, error: 'x' } as Partial<RunRow>));
  assert.equal(failed.retrying, false);
  assert.equal(failed.lastFailure, null);
  assert.equal(failed.error, 'x');
});
