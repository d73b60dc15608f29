import assert from 'node:assert/strict';
import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { type ExportFormat, resolveFormat } from './formats/registry.ts';
import { defaultCsvOptions } from './formats/text-formats.ts';
import { ExportLimitError, exportCopyToStream, exportToStream } from './pipeline.ts';
import type { Column, RowStream, Value } from './sources/types.ts';

// Failures downstream of an encoder (a full disk, a limit, a cancel) must end the
// export with that error, never leave it waiting forever.

const columns: Column[] = [
  { name: 'id', type: 'integer', dbType: 'int4' },
  { name: 'text', type: 'string', dbType: 'text' },
];

function rows(n: number): RowStream {
  async function* batches(): AsyncGenerator<Value[][]> {
    for (let i = 0; i < n; i += 1000)
      yield Array.from({ length: Math.min(1000, n - i) }, (_, j) => [
        i + j,
        `row ${i + j} ${'x'.repeat(40)}`,
      ]);
  }
  return { columns, batches: batches() };
}

function failingAfter(bytes: number): Writable {
  let seen = 0;
  return new Writable({
    write(chunk, _e, done) {
      seen += chunk.length;
      done(
        seen > bytes ? Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }) : null,
      );
    },
  });
}

const sink = () => new Writable({ write: (_c, _e, done) => done() });
const cases: Array<[ExportFormat, 'none' | 'zip' | 'gzip']> = [
  ['csv', 'none'],
  ['xlsx', 'none'],
  ['pdf', 'none'],
  ['csv', 'zip'],
  ['json', 'gzip'],
];

describe('export pipeline failures', () => {
  for (const [format, compression] of cases) {
    const label = `${format}${compression === 'none' ? '' : ` + ${compression}`}`;
    const run = (out: Writable, maxBytes = 1e12, signal = new AbortController().signal) =>
      exportToStream({
        rows: rows(format === 'pdf' ? 9_000 : 200_000),
        encoder: resolveFormat(format, {}, { timeZone: 'UTC' }).encoder,
        compression: compression === 'zip' ? { kind: 'zip', entryName: 'x' } : { kind: compression },
        out,
        signal,
        limits: { maxRows: 1e9, maxBytes },
      });

    test(`${label}: a failing writer fails the export`, { timeout: 20_000 }, async () => {
      await assert.rejects(run(failingAfter(100_000)), /ENOSPC/);
    });

    test(`${label}: the byte limit fails the export`, { timeout: 20_000 }, async () => {
      await assert.rejects(run(sink(), 50_000), ExportLimitError);
    });

    test(`${label}: an abort ends the export`, { timeout: 20_000 }, async () => {
      const controller = new AbortController();
      // Cancelled as soon as the first bytes arrive, as a user's cancel would, mid-stream.
      const cancelling = new Writable({
        write(_c, _e, done) {
          controller.abort(new Error('cancelled'));
          done();
        },
      });
      await assert.rejects(run(cancelling, 1e12, controller.signal), /cancelled/);
    });
  }
});

describe('COPY export', () => {
  test('COPY output becomes CRLF records with the row count, the BOM first', async () => {
    const source = Readable.from([Buffer.from('id,note\n1,"a\nb"\n'), Buffer.from('2,x\n')]);
    const out = new PassThrough();
    const collected: Buffer[] = [];
    out.on('data', (c: Buffer) => collected.push(c));
    const result = await exportCopyToStream({
      source,
      text: { ...defaultCsvOptions, rewrites: [null, null] },
      bom: true,
      compression: { kind: 'none' },
      out,
      signal: new AbortController().signal,
      limits: { maxRows: 100, maxBytes: 1_000_000 },
    });
    assert.equal(Buffer.concat(collected).toString(), '\uFEFFid,note\r\n1,"a\nb"\r\n2,x\r\n');
    assert.equal(result.rows, 2);
  });
});

describe('an abort ends the export even when the source never answers again', () => {
  // A driver whose stream neither ends nor fails once its connection is gone (the
  // stale attempt of a stalled worker): the export must still end with the abort.
  const stuckRows = (): RowStream => {
    async function* batches(): AsyncGenerator<Value[][]> {
      yield [[1, 'first']];
      await new Promise(() => {});
    }
    return { columns, batches: batches() };
  };
  for (const compression of ['none', 'zip', 'gzip'] as const) {
    test(`rows${compression === 'none' ? '' : ` + ${compression}`}`, { timeout: 20_000 }, async () => {
      const controller = new AbortController();
      const exporting = exportToStream({
        rows: stuckRows(),
        encoder: resolveFormat('csv', {}, { timeZone: 'UTC' }).encoder,
        compression: compression === 'zip' ? { kind: 'zip', entryName: 'x' } : { kind: compression },
        out: sink(),
        signal: controller.signal,
        limits: { maxRows: 1e9, maxBytes: 1e12 },
        // The first batch is through: the lease is lost while the source is silent.
        onProgress: () => controller.abort(new Error('lease lost')),
      });
      await assert.rejects(exporting, /lease lost/);
    });
  }

  test('COPY', { timeout: 20_000 }, async () => {
    const controller = new AbortController();
    const source = new PassThrough();
    source.write('id,note\n1,a\n');
    const exporting = exportCopyToStream({
      source,
      text: { ...defaultCsvOptions, rewrites: [null, null] },
      bom: false,
      compression: { kind: 'none' },
      out: sink(),
      signal: controller.signal,
      limits: { maxRows: 100, maxBytes: 1_000_000 },
      onProgress: () => controller.abort(new Error('lease lost')),
    });
    await assert.rejects(exporting, /lease lost/);
    assert.ok(source.destroyed, 'the source stream is let go');
  });
});
