import { constants, crc32, deflateRaw, deflateRawSync, type ZlibOptions } from 'node:zlib';

// A streaming ZIP writer (APPNOTE 6.3.10) for files Ferry produces as it goes
// (the sheets of an XLSX). Sizes and CRC follow each entry in a data descriptor
// (flag bit 3), so nothing is held back; ZIP64 records are written where a size,
// an offset or the number of entries needs them.
//
// Compression is spread over libuv's thread pool the way pigz does it: the entry's
// bytes are cut into blocks, each deflated on its own with the previous block's
// last 32 KB as dictionary (so matches reach back as they would in one stream)
// and ended with a sync flush (byte-aligned, not final); the blocks' outputs,
// in order, followed by one empty final block, are a single valid deflate
// stream. With one zlib stream per entry, the main thread waited for deflate:
// an XLSX export ran at the speed of one core's deflate. The CRC-32 is zlib's
// native one, on the main thread (yazl computed it in JavaScript).

/** Uncompressed bytes per deflate job. */
const BLOCK_BYTES = 1 << 20;
const WINDOW_BYTES = 32 * 1024;
/** Deflate jobs in flight per entry: the other core(s) compress while this one writes. */
const IN_FLIGHT = 3;
const MAX_32 = 0xffff_ffff;
const FINAL_EMPTY_BLOCK = deflateRawSync(Buffer.alloc(0));

interface Written {
  name: Buffer;
  method: 0 | 8;
  crc: number;
  compressedSize: number;
  size: number;
  offset: number;
  zip64: boolean;
}

function deflateBlock(data: Buffer, dictionary: Buffer | undefined, level: number): Promise<Buffer> {
  // Output in large pieces: the default 16 KB meant a callback per 16 KB.
  const options: ZlibOptions = { level, finishFlush: constants.Z_SYNC_FLUSH, chunkSize: 256 * 1024 };
  if (dictionary) options.dictionary = dictionary;
  return new Promise((resolve, reject) =>
    deflateRaw(data, options, (err, out) => (err ? reject(err) : resolve(out))),
  );
}

function dosDateTime(at: Date): { time: number; date: number } {
  return {
    time: (at.getHours() << 11) | (at.getMinutes() << 5) | (at.getSeconds() >> 1),
    date: (Math.max(0, at.getFullYear() - 1980) << 9) | ((at.getMonth() + 1) << 5) | at.getDate(),
  };
}

export interface ZipStreamOptions {
  /** zlib level for compressed entries (default 6, zlib's own default). */
  level?: number;
  /** Written as the entries' modification time (default: now). */
  modified?: Date;
  /** ZIP64 records for every entry, whatever its size (tests of the ZIP64 path). */
  forceZip64?: boolean;
}

export class ZipStream {
  readonly #entries: Written[] = [];
  #offset = 0;
  readonly #level: number;
  readonly #time: number;
  readonly #date: number;
  readonly #forceZip64: boolean;

  constructor(options: ZipStreamOptions = {}) {
    this.#level = options.level ?? 6;
    const { time, date } = dosDateTime(options.modified ?? new Date());
    this.#time = time;
    this.#date = date;
    this.#forceZip64 = options.forceZip64 ?? false;
  }

  #out(buffer: Buffer): Buffer {
    this.#offset += buffer.length;
    return buffer;
  }

  /**
   * One entry, its content read as it is produced (text is written as UTF-8).
   * Yields the archive's bytes; stopping early leaves no work behind.
   */
  async *entry(
    name: string,
    content: AsyncIterable<string | Buffer> | Iterable<string | Buffer>,
    options: { compress?: boolean } = {},
  ): AsyncGenerator<Buffer> {
    const compress = options.compress ?? true;
    const written: Written = {
      name: Buffer.from(name, 'utf8'),
      method: compress ? 8 : 0,
      crc: 0,
      compressedSize: 0,
      size: 0,
      offset: this.#offset,
      zip64: false,
    };
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(this.#forceZip64 ? 45 : 20, 4);
    header.writeUInt16LE(0x0808, 6); // sizes in the data descriptor; UTF-8 name
    header.writeUInt16LE(written.method, 8);
    header.writeUInt16LE(this.#time, 10);
    header.writeUInt16LE(this.#date, 12);
    // CRC and sizes (14..25) follow in the data descriptor.
    header.writeUInt16LE(written.name.length, 26);
    header.writeUInt16LE(0, 28);
    yield this.#out(header);
    yield this.#out(written.name);

    const jobs: Promise<Buffer>[] = [];
    // Text is encoded as UTF-8 straight into the block being filled: joining the
    // pieces into one string, or encoding each and concatenating, cost more than the
    // deflate (measured). A block is handed to its deflate job and never reused.
    let buffer = Buffer.allocUnsafe(0);
    let used = 0;
    let previous: Buffer | undefined;
    const take = (): Buffer => {
      const data = buffer.subarray(0, used);
      buffer = Buffer.allocUnsafe(0);
      used = 0;
      written.crc = crc32(data, written.crc);
      written.size += data.length;
      return data;
    };
    /** Adds a piece; returns a full block when one is ready. */
    const add = (part: string | Buffer): Buffer | null => {
      // UTF-8 needs at most 3 bytes per UTF-16 unit: room for that, so no write is cut short.
      const most = typeof part === 'string' ? part.length * 3 : part.length;
      let full: Buffer | null = null;
      if (used + most > buffer.length) {
        if (used > 0) full = take();
        buffer = Buffer.allocUnsafe(Math.max(BLOCK_BYTES + (BLOCK_BYTES >> 2), most));
      }
      used += typeof part === 'string' ? buffer.write(part, used, 'utf8') : part.copy(buffer, used);
      return full ?? (used >= BLOCK_BYTES ? take() : null);
    };
    // Blocks go out in order; a stored entry's blocks pass through as they are.
    const send = (data: Buffer): Promise<Buffer> => {
      if (!compress) return Promise.resolve(data);
      const job = deflateBlock(data, previous, this.#level);
      previous = data.length >= WINDOW_BYTES ? data.subarray(data.length - WINDOW_BYTES) : data;
      return job;
    };
    const next = async (): Promise<Buffer> => {
      const out = await jobs.shift()!;
      written.compressedSize += out.length;
      return this.#out(out);
    };
    try {
      for await (const part of content) {
        const data = add(part);
        if (!data) continue;
        jobs.push(send(data));
        if (jobs.length >= IN_FLIGHT) yield await next();
      }
      if (used > 0) jobs.push(send(take()));
      while (jobs.length > 0) yield await next();
      if (compress) {
        written.compressedSize += FINAL_EMPTY_BLOCK.length;
        yield this.#out(FINAL_EMPTY_BLOCK);
      }
    } finally {
      // Stopped early: let the jobs under way end, so no rejection goes unhandled.
      for (const job of jobs) job.catch(() => {});
    }

    written.zip64 = this.#forceZip64 || written.size > MAX_32 || written.compressedSize > MAX_32;
    const descriptor = Buffer.alloc(written.zip64 ? 24 : 16);
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(written.crc >>> 0, 4);
    if (written.zip64) {
      descriptor.writeBigUInt64LE(BigInt(written.compressedSize), 8);
      descriptor.writeBigUInt64LE(BigInt(written.size), 16);
    } else {
      descriptor.writeUInt32LE(written.compressedSize, 8);
      descriptor.writeUInt32LE(written.size, 12);
    }
    yield this.#out(descriptor);
    this.#entries.push(written);
  }

  /** The central directory and its end records: the archive's last bytes. */
  finish(): Buffer {
    const start = this.#offset;
    const parts: Buffer[] = [];
    for (const e of this.#entries) {
      const bigOffset = this.#forceZip64 || e.offset > MAX_32;
      const zip64 = e.zip64 || bigOffset;
      const extra: bigint[] = [];
      if (zip64) extra.push(BigInt(e.size), BigInt(e.compressedSize));
      if (bigOffset) extra.push(BigInt(e.offset));
      const extraField = Buffer.alloc(extra.length > 0 ? 4 + 8 * extra.length : 0);
      if (extra.length > 0) {
        extraField.writeUInt16LE(0x0001, 0);
        extraField.writeUInt16LE(8 * extra.length, 2);
        extra.forEach((v, i) => {
          extraField.writeBigUInt64LE(v, 4 + 8 * i);
        });
      }
      const h = Buffer.alloc(46);
      h.writeUInt32LE(0x02014b50, 0);
      h.writeUInt16LE((3 << 8) | 45, 4); // made by: Unix, 4.5
      h.writeUInt16LE(zip64 ? 45 : 20, 6);
      h.writeUInt16LE(0x0808, 8);
      h.writeUInt16LE(e.method, 10);
      h.writeUInt16LE(this.#time, 12);
      h.writeUInt16LE(this.#date, 14);
      h.writeUInt32LE(e.crc >>> 0, 16);
      h.writeUInt32LE(zip64 ? MAX_32 : e.compressedSize, 20);
      h.writeUInt32LE(zip64 ? MAX_32 : e.size, 24);
      h.writeUInt16LE(e.name.length, 28);
      h.writeUInt16LE(extraField.length, 30);
      // comment length, disk, internal attributes: 0
      h.writeUInt32LE((0o100644 << 16) >>> 0, 38); // a regular file, rw-r--r--
      h.writeUInt32LE(bigOffset ? MAX_32 : e.offset, 42);
      parts.push(h, e.name, extraField);
    }
    const directory = Buffer.concat(parts);
    const count = this.#entries.length;
    const end: Buffer[] = [];
    const zip64End = this.#forceZip64 || count > 0xffff || start > MAX_32 || directory.length > MAX_32;
    if (zip64End) {
      const record = Buffer.alloc(56);
      record.writeUInt32LE(0x06064b50, 0);
      record.writeBigUInt64LE(44n, 4);
      record.writeUInt16LE((3 << 8) | 45, 12);
      record.writeUInt16LE(45, 14);
      // this disk, the directory's disk: 0
      record.writeBigUInt64LE(BigInt(count), 24);
      record.writeBigUInt64LE(BigInt(count), 32);
      record.writeBigUInt64LE(BigInt(directory.length), 40);
      record.writeBigUInt64LE(BigInt(start), 48);
      const locator = Buffer.alloc(20);
      locator.writeUInt32LE(0x07064b50, 0);
      locator.writeBigUInt64LE(BigInt(start + directory.length), 8);
      locator.writeUInt32LE(1, 16);
      end.push(record, locator);
    }
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0);
    eocd.writeUInt16LE(zip64End ? 0xffff : count, 8);
    eocd.writeUInt16LE(zip64End ? 0xffff : count, 10);
    eocd.writeUInt32LE(zip64End ? MAX_32 : directory.length, 12);
    eocd.writeUInt32LE(zip64End ? MAX_32 : start, 16);
    end.push(eocd);
    return this.#out(Buffer.concat([directory, ...end]));
  }
}
