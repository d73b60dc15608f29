import yauzl from 'yauzl';

export interface UnzippedEntry {
  name: string;
  bytes: Buffer;
  /** The CRC-32 the archive's central directory states. */
  crc32: number;
  compressionMethod: number;
}

/** The entries of a zip archive, read with yauzl (another library than any Ferry writes with). */
export async function unzip(bytes: Buffer): Promise<UnzippedEntry[]> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromBuffer(bytes, { lazyEntries: true }, (err, z) => (err ? reject(err) : resolve(z!))),
  );
  const out: UnzippedEntry[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      zip.openReadStream(entry, async (err, stream) => {
        if (err) return reject(err);
        try {
          const chunks: Buffer[] = [];
          for await (const c of stream!) chunks.push(c as Buffer);
          out.push({
            name: entry.fileName,
            bytes: Buffer.concat(chunks),
            crc32: entry.crc32,
            compressionMethod: entry.compressionMethod,
          });
          zip.readEntry();
        } catch (e) {
          reject(e);
        }
      });
    });
    zip.on('end', () => resolve());
    zip.on('error', reject);
    zip.readEntry();
  });
  return out;
}
