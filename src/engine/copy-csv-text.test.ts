import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type CopyCsvText, copyCsvFramer, csvRecordEnds, rewritesApply } from './copy-csv-text.ts';

describe('CSV record ends in COPY output', () => {
  /** The obvious byte-by-byte reading, as the reference. */
  function reference(chunks: Buffer[]): number[][] {
    let inQuotes = false;
    return chunks.map((chunk) => {
      const ends: number[] = [];
      for (let i = 0; i < chunk.length; i++) {
        if (chunk[i] === 0x22) inQuotes = !inQuotes;
        else if (chunk[i] === 0x0a && !inQuotes) ends.push(i);
      }
      return ends;
    });
  }

  test('line feeds inside quoted fields and doubled quotes are not record ends, across any chunk split', () => {
    const text = 'id,note\n1,"a\nb"\n2,"say ""hi""\n"\n3,plain\n4,""\n5,"""x"""\n';
    for (let split = 1; split < text.length; split++) {
      const bytes = Buffer.from(text);
      const chunks = [bytes.subarray(0, split), bytes.subarray(split)];
      const scan = csvRecordEnds('"');
      assert.deepEqual(
        chunks.map((c) => scan(c)),
        reference(chunks),
        `split at ${split}`,
      );
    }
  });

  test('random CSV-like bytes: the same ends as the byte-by-byte reading', () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const alphabet = ['"', '\n', ',', 'a', 'b', ' '];
    for (let round = 0; round < 200; round++) {
      const chunks = Array.from({ length: 1 + Math.floor(random() * 4) }, () =>
        Buffer.from(
          Array.from(
            { length: Math.floor(random() * 40) },
            () => alphabet[Math.floor(random() * alphabet.length)],
          ).join(''),
        ),
      );
      const scan = csvRecordEnds('"');
      assert.deepEqual(
        chunks.map((c) => scan(c)),
        reference(chunks),
      );
    }
  });
});

/** Runs text through a framer in the given pieces and joins what comes out. */
function frame(o: CopyCsvText, pieces: Buffer[]): { text: string; records: number } {
  const framer = copyCsvFramer(o);
  const out: Buffer[] = [];
  let records = 0;
  for (const piece of pieces) {
    const r = framer.push(piece);
    out.push(r.out);
    records += r.records;
  }
  const last = framer.end();
  out.push(last.out);
  records += last.records;
  return { text: Buffer.concat(out).toString(), records };
}

const base: CopyCsvText = {
  delimiter: ',',
  quote: '"',
  nullText: '',
  header: true,
  lineEnding: '\r\n',
  rewrites: [],
};

describe('COPY field rewrites (PostgreSQL text → Ferry text)', () => {
  // As PostgreSQL writes it with TimeZone UTC and DateStyle ISO: t/f, "YYYY-MM-DD HH:MM:SS[.f]+00".
  const server = [
    'id,flag,at,local,name',
    '1,t,2026-03-29 01:00:00.123456+00,2026-03-29 02:30:00.5,"=1+2, ""x"""',
    '2,f,1999-12-31 18:59:59.1234+00,1999-12-31 23:59:59,-minus',
    '3,,,,',
    '4,t,infinity,infinity,""',
    '5,f,0044-03-15 12:00:00+00 BC,0044-03-15 12:00:00 BC,"line\nbreak"',
    '6,t,2026-01-01 00:00:00.500000+00,2026-01-01 00:00:00,"@at ""q"""',
    '7,f,0001-01-01 00:00:00.000001+00,0001-01-01 00:00:00,"\ttab, ok"',
    '8,t,10000-01-01 00:00:00+00,10000-01-01 00:00:00,+plus',
    '',
  ].join('\n');
  const ferry = [
    'id,flag,at,local,name',
    `1,true,2026-03-29T01:00:00.123456Z,2026-03-29T02:30:00.5,"'=1+2, ""x"""`,
    `2,false,1999-12-31T18:59:59.123400Z,1999-12-31T23:59:59,'-minus`,
    '3,,,,',
    '4,true,infinity,infinity,""',
    '5,false,0044-03-15 12:00:00+00 BC,0044-03-15T12:00:00 BC,"line\nbreak"',
    `6,true,2026-01-01T00:00:00.500Z,2026-01-01T00:00:00,"'@at ""q"""`,
    `7,false,0001-01-01T00:00:00.000001Z,0001-01-01T00:00:00,"'\ttab, ok"`,
    `8,true,10000-01-01 00:00:00+00,10000-01-01T00:00:00,'+plus`,
    '',
  ].join('\r\n');
  const o: CopyCsvText = { ...base, rewrites: [null, 'boolean', 'instant', 'timestamp', 'formula'] };

  test('every rewrite, in one piece', () => {
    assert.deepEqual(frame(o, [Buffer.from(server)]), { text: ferry, records: 9 });
  });

  test('the same bytes however the server text is split, even inside a character or a quoted line break', () => {
    const bytes = Buffer.from(`${server}9,t,2026-01-01 00:00:00+00,2026-01-01 00:00:00,Zoë 🚀\n`);
    const expected = `${ferry}9,true,2026-01-01T00:00:00.000Z,2026-01-01T00:00:00,Zoë 🚀\r\n`;
    let checked = 0;
    for (let a = 1; a < bytes.length; a += 3) {
      for (const b of [a + 1, a + 7, bytes.length - 1]) {
        if (b <= a || b >= bytes.length) continue;
        const pieces = [bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)];
        assert.equal(frame(o, pieces).text, expected, `split at ${a} and ${b}`);
        checked++;
      }
    }
    assert.ok(checked > 300);
  });

  test('values equal to the NULL text are quoted, NULLs are not, and no header is read as data', () => {
    const nulls: CopyCsvText = {
      ...base,
      nullText: 'true',
      header: false,
      lineEnding: '\n',
      rewrites: ['boolean', 'formula'],
    };
    assert.equal(
      frame(nulls, [Buffer.from('t,true\nf,"true"\ntrue,\n')]).text,
      '"true",true\nfalse,"true"\ntrue,\n',
    );
    const nullWord: CopyCsvText = { ...nulls, nullText: 'NULL', rewrites: ['formula', 'instant'] };
    assert.equal(
      frame(nullWord, [Buffer.from(',NULL\n"NULL",2020-01-01 00:00:00+00\n')]).text,
      ',NULL\n"NULL",2020-01-01T00:00:00.000Z\n',
    );
  });

  test('a last record without a line feed is still rewritten and counted', () => {
    const r = frame({ ...o, header: false, lineEnding: '\n' }, [
      Buffer.from('1,t,2020-01-01 00:00:00+00,x y,=a'),
    ]);
    assert.deepEqual(r, { text: "1,true,2020-01-01T00:00:00.000Z,xTy,'=a", records: 1 });
  });

  test('without rewrites the server text passes through, with CRLF line ends', () => {
    const plain = frame({ ...base, rewrites: [null, null] }, [Buffer.from('a,b\n1,"x\ny"\n')]);
    assert.deepEqual(plain, { text: 'a,b\r\n1,"x\ny"\r\n', records: 2 });
  });

  test('options whose characters could collide with rewritten text keep the work in SQL', () => {
    assert.equal(rewritesApply(base), true);
    assert.equal(rewritesApply({ ...base, delimiter: ';', nullText: 'NULL' }), true);
    assert.equal(rewritesApply({ ...base, delimiter: '\t' }), true);
    assert.equal(rewritesApply({ ...base, quote: "'" }), false);
    assert.equal(rewritesApply({ ...base, delimiter: 'T' }), false);
    assert.equal(rewritesApply({ ...base, delimiter: '-' }), false);
    assert.equal(rewritesApply({ ...base, nullText: '-' }), false);
    assert.throws(() => copyCsvFramer({ ...base, quote: "'", rewrites: ['boolean'] }), /do not apply/);
  });
});
