import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ParameterDefinition } from '../modules/reports/parameters.ts';
import { cliParameters } from './export.ts';
import { UsageError } from './usage.ts';

const defs: ParameterDefinition[] = [
  { name: 'min_qty', type: 'integer' },
  { name: 'from', type: 'date', default: 'start_of_last_month' },
  { name: 'active', type: 'boolean', default: true },
  { name: 'regions', type: 'list', items: 'string', default: [] },
];

test('--param values are typed by the report’s declarations', () => {
  assert.deepEqual(
    cliParameters(['min_qty=5', 'from=2026-01-31', 'active=false', 'regions=North, South'], defs),
    { min_qty: '5', from: '2026-01-31', active: false, regions: ['North', 'South'] },
  );
  // Declared defaults fill what is not given; a required parameter must be given.
  assert.deepEqual(cliParameters(['min_qty=1'], defs), { min_qty: '1' });
});

test('bad --param usage is a usage error naming the parameter, before any run exists', () => {
  const refused = (pairs: string[], pattern: RegExp) =>
    assert.throws(
      () => cliParameters(pairs, defs),
      (err: Error) => err instanceof UsageError && pattern.test(err.message),
    );
  refused(
    ['nope=1'],
    /--param nope: the report has no such parameter \(it has: min_qty, from, active, regions\)/,
  );
  refused(['min_qty'], /--param must be name=value/);
  refused(['min_qty=five'], /--param min_qty must be a whole number/);
  refused(['min_qty=1', 'from=31.01.2026'], /--param from must be a date/);
  refused([], /--param min_qty is required/);
});
