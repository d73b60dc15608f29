import assert from 'node:assert/strict';
import { test } from 'node:test';
import XLSX from 'xlsx';
import type { Column, Value } from '../sources/types.ts';
import { formatOptionSpecs, resolveFormat } from './registry.ts';

// Options as users send them, resolved into writers, and what those writers make.

const columns: Column[] = [
  { name: 'amount', type: 'decimal', dbType: 'numeric' },
  { name: 'big', type: 'bigint', dbType: 'int8' },
];
const rows: Value[][] = [
  ['12345678901234567.89', 9007199254740993n],
  ['12.50', 7n],
];

async function write(format: 'json' | 'ndjson' | 'xlsx', options: Record<string, unknown>): Promise<Buffer> {
  const spec = resolveFormat(format, options, { timeZone: 'UTC' });
  async function* one() {
    yield rows;
  }
  const chunks: Buffer[] = [];
  for await (const c of spec.encoder(columns, one())) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks);
}

test('JSON decimals: exact digits as numbers by default, as strings when asked (and by the earlier option name)', async () => {
  const asNumbers = (await write('json', {})).toString();
  assert.match(asNumbers, /"amount":12345678901234567\.89,"big":9007199254740993/);
  for (const options of [{ decimals: 'string' }, { exactNumbers: 'string' }]) {
    const parsed = JSON.parse((await write('json', options)).toString());
    assert.deepEqual(parsed[0], { amount: '12345678901234567.89', big: '9007199254740993' });
    assert.deepEqual(parsed[1], { amount: '12.50', big: '7' });
  }
  const ndjson = (await write('ndjson', { decimals: 'string' })).toString().trim().split('\n');
  assert.deepEqual(JSON.parse(ndjson[0]!), { amount: '12345678901234567.89', big: '9007199254740993' });
  assert.throws(() => resolveFormat('json', { decimals: 'float' }, { timeZone: 'UTC' }), /decimals/);
  assert.deepEqual(
    formatOptionSpecs.json.map((o) => o.name),
    ['decimals'],
  );
});

test('XLSX exactDecimals: each decimal column has one type (text with every digit) instead of numbers mixed with text', async () => {
  const read = async (options: Record<string, unknown>) => {
    const book = XLSX.read(await write('xlsx', options));
    const sheet = book.Sheets[book.SheetNames[0]!]!;
    return ['A2', 'B2', 'A3', 'B3'].map((ref) => [sheet[ref]?.t, sheet[ref]?.v]);
  };
  // Default: a value a cell cannot hold exactly is text, the others numbers.
  assert.deepEqual(await read({}), [
    ['s', '12345678901234567.89'],
    ['s', '9007199254740993'],
    ['n', 12.5],
    ['n', 7],
  ]);
  assert.deepEqual(await read({ exactDecimals: true }), [
    ['s', '12345678901234567.89'],
    ['s', '9007199254740993'],
    ['s', '12.50'],
    ['s', '7'],
  ]);
});
