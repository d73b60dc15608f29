import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

// Runs every bench/*.bench.ts in turn. Each prints its own table of figures as
// ratios against a reference measured in the same run; none is a pass/fail test.

const only = process.argv[2];
const dir = import.meta.dirname;
for (const file of (await readdir(dir)).filter((f) => f.endsWith('.bench.ts')).sort()) {
  if (only && !file.includes(only)) continue;
  process.stdout.write(`\n## ${file}\n`);
  const mod = (await import(join(dir, file))) as { run: () => Promise<void> };
  await mod.run();
}
