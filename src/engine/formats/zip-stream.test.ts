import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { unzip } from '../../../test/helpers/unzip.ts';
import { ZipStream, type ZipStreamOptions } from './zip-stream.ts';

const crc32Of = (createRequire(import.meta.url)('buffer-crc32') as { unsigned(b: Buffer): number }).unsigned;

// The archives are read back with yauzl and the CRC-32s checked with a JavaScript
// implementation (buffer-crc32), neither of which the writer uses.

/** Text like a sheet's XML, varied enough that deflate has work: several blocks' worth. */
function sheetLike(rows: number): string[] {
  const parts: string[] = [];
  for (let r = 1; r <= rows; r++)
    parts.push(
      `<row r="${r}"><c r="A${r}"><v>${r * 7919}</v></c><c r="B${r}" t="inlineStr"><is><t>customer ${(r * 48271) % 99991} – Zürich</t></is></c></row>`,
    );
  return parts;
}

async function archive(
  entries: { name: string; content: Iterable<string | Buffer>; compress?: boolean }[],
  options?: ZipStreamOptions,
): Promise<Buffer> {
  const zip = new ZipStream(options);
  const out: Buffer[] = [];
  for (const e of entries)
    for await (const chunk of zip.entry(e.name, e.content, { compress: e.compress ?? true })) out.push(chunk);
  out.push(zip.finish());
  return Buffer.concat(out);
}

describe('ZipStream', () => {
  for (const forceZip64 of [false, true]) {
    test(`entries of every kind read back exactly${forceZip64 ? ' (ZIP64 records)' : ''}`, async () => {
      const big = sheetLike(60_000); // ~6 MB: blocks deflated in parallel
      const binary = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) & 0xff));
      const bytes = await archive(
        [
          { name: 'xl/worksheets/sheet1.xml', content: big },
          { name: 'small.xml', content: ['<a/>'] },
          { name: 'empty.txt', content: [] },
          { name: 'stored.bin', content: [binary], compress: false },
          { name: 'ünïcödé/名前.txt', content: [Buffer.from('bytes'), 'and text'] },
        ],
        { forceZip64 },
      );
      const entries = await unzip(bytes);
      assert.deepEqual(
        entries.map((e) => e.name),
        ['xl/worksheets/sheet1.xml', 'small.xml', 'empty.txt', 'stored.bin', 'ünïcödé/名前.txt'],
      );
      const expected = [
        Buffer.from(big.join('')),
        Buffer.from('<a/>'),
        Buffer.alloc(0),
        binary,
        Buffer.from('bytesand text'),
      ];
      entries.forEach((e, i) => {
        assert.ok(e.bytes.equals(expected[i]!), `${e.name}: content differs`);
        assert.equal(e.crc32, crc32Of(expected[i]!), `${e.name}: CRC-32`);
      });
      assert.equal(entries[3]!.compressionMethod, 0);
      assert.equal(entries[0]!.compressionMethod, 8);
    });
  }

  test('blocks deflated apart, each primed with the last 32 KB before it, compress as well as one stream', async () => {
    const big = sheetLike(60_000);
    const bytes = await archive([{ name: 'sheet.xml', content: big }]);
    const oneStream = deflateRawSync(Buffer.from(big.join(''))).length;
    const ours = bytes.length;
    assert.ok(ours < oneStream * 1.01, `${ours} bytes against ${oneStream} from one zlib stream`);
  });

  test('an entry abandoned half way leaves no deflate job behind to fail unseen', async () => {
    const zip = new ZipStream();
    const entry = zip.entry('sheet.xml', sheetLike(60_000));
    let chunks = 0;
    for await (const _ of entry) if (++chunks === 3) break;
    assert.equal(chunks, 3);
  });
});
