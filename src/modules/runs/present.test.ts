import assert from 'node:assert/strict';
import { test } from 'node:test';
import { presentRun } from './present.ts';
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
