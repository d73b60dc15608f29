import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';
import type { Column, Value } from '../sources/types.ts';
import { pdfEncoder } from './pdf.ts';

const columns: Column[] = [
  { name: 'id', type: 'integer', dbType: 'int4' },
  { name: 'customer', type: 'string', dbType: 'text' },
  { name: 'amount', type: 'decimal', dbType: 'numeric' },
  { name: 'at', type: 'timestamptz', dbType: 'timestamptz' },
];

async function pdfText(data: Value[][], rowCap: number): Promise<{ pages: string[]; bytes: number }> {
  async function* batches() {
    for (let i = 0; i < data.length; i += 500) yield data.slice(i, i + 500);
  }
  const chunks: Buffer[] = [];
  const encode = pdfEncoder({
    title: 'Sales — März',
    parameters: { from: '2026-01-01', regions: ['North'] },
    generatedAt: new Date('2026-03-15T09:30:00Z'),
    timeZone: 'Europe/Berlin',
    landscape: false,
    rowCap,
  });
  for await (const c of encode(columns, batches())) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  const bytes = Buffer.concat(chunks);
  const doc = await getDocument({ data: new Uint8Array(bytes), useSystemFonts: false, disableFontFace: true })
    .promise;
  const pages: string[] = [];
  for (let p = 1; p <= doc.numPages; p++) {
    const content = await (await doc.getPage(p)).getTextContent();
    pages.push(content.items.map((i) => ('str' in i ? i.str : '')).join(' '));
  }
  return { pages, bytes: bytes.length };
}

describe('PDF writer read back by a PDF text extractor', () => {
  test('title, generated-at in the zone, parameters, header on every page, page numbers, unicode', async () => {
    const data: Value[][] = Array.from({ length: 180 }, (_, i) => [
      i + 1,
      i === 0 ? 'Zoë Müller, "Ærø" Ltd' : `customer ${i + 1}`,
      '-12.50',
      new Date('2026-03-01T10:00:00Z'),
    ]);
    const { pages } = await pdfText(data, 10_000);
    assert.ok(pages.length >= 3, `${pages.length} pages`);
    assert.match(pages[0]!, /Sales — März/);
    assert.match(pages[0]!, /Generated 2026-03-15, 10:30:00 \(Europe\/Berlin\)/);
    assert.match(pages[0]!, /from = 2026-01-01/);
    assert.match(pages[0]!, /Zoë Müller, "Ærø" Ltd/);
    for (const [i, page] of pages.entries()) {
      assert.match(page, /id\s+customer\s+amount\s+at/, `header on page ${i + 1}`);
      assert.match(page, new RegExp(`page ${i + 1}`));
    }
    assert.match(pages.at(-1)!, /180 rows\./);
    assert.match(pages.at(-1)!, /customer 180/);
  });

  test('the row cap is stated in the document', async () => {
    const data: Value[][] = Array.from({ length: 1200 }, (_, i) => [i + 1, `c${i + 1}`, '1', null]);
    const { pages } = await pdfText(data, 1000);
    const all = pages.join('\n');
    assert.match(all, /shows the first 1,000 rows; the report has more/);
    assert.match(all, /c1000\b/);
    assert.ok(!/c1001\b/.test(all));
  });
});
