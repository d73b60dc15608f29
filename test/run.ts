import { glob } from 'node:fs/promises';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { type Tier, tierOf } from './helpers/tiers.ts';
import { timeScale } from './helpers/time.ts';

// `npm test`: every test file, through node's test runner (its API, for one
// thing the command line cannot do: choose the order in which files start).
//
// `node --test` sorts the files it finds by path, so the browser tests
// (test/web) started last, after ~90 s, and ran on alone at the end while the
// other files had finished: a suite of 236–272 core-seconds took 136–151 s on
// 2 cores, 15–18 s more than its CPU time shared over both. Starting the long
// tiers first (process files, then browser, then database, then unit files,
// which fill the gaps at the end) left the cores idle for 7–10 s. Process files
// go before the browser's so that four Chromiums and four `ferry start`s do not
// start at the same instant on a slow machine.
//
// Arguments narrow the run to those files or globs: `npm test -- src/timing`.
// The output is the spec reporter's, as with `node --test`, and the exit code
// is 1 when a test failed.

const FIRST: Tier[] = ['process', 'web', 'db', 'unit'];
const DEFAULT_PATTERNS = ['{src,test}/**/*.test.ts'];

async function testFiles(patterns: string[]): Promise<string[]> {
  const files = new Set<string>();
  for (const pattern of patterns) {
    const asDirectory = !/[*?{[]/.test(pattern) && !pattern.endsWith('.ts');
    for await (const file of glob(asDirectory ? `${pattern.replace(/\/$/, '')}/**/*.test.ts` : pattern))
      if (tierOf(file)) files.add(file);
  }
  const rank = (file: string) => FIRST.indexOf(tierOf(file)!);
  return [...files].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

const patterns = process.argv.slice(2);
const files = await testFiles(patterns.length > 0 ? patterns : DEFAULT_PATTERNS);
if (files.length === 0) {
  process.stderr.write(`No test files match ${patterns.join(' ')}\n`);
  process.exit(1);
}

// globalSetupPath is run()'s form of --test-global-setup (Node 24); @types/node does not list it yet.
const options: Parameters<typeof run>[0] & { globalSetupPath: string } = {
  files,
  concurrency: 4,
  // The same scale as every budget inside the tests (test/helpers/time.ts).
  timeout: timeScale * 120_000,
  globalSetupPath: 'test/helpers/global-setup.ts',
  execArgv: ['--import', './test/helpers/preload.ts'],
};
const tests = run(options);
tests.on('test:fail', () => {
  process.exitCode = 1;
});
tests.compose(spec).pipe(process.stdout);
