import { prepareDataDirInBackground } from './data-dir.ts';
import { prepareTestServer, releaseEmbeddedTestServer } from './db.ts';

// Before the test files start in parallel: the test server is up (the embedded one
// is held until the teardown, so it is not stopped and started between files) and
// the migrated template is built once.
let preparing: Promise<unknown> | undefined;

export async function globalSetup(): Promise<void> {
  await prepareTestServer();
  // The process tests' prepared data directory, when the cache lacks it (a fresh
  // checkout): built beside the first test files rather than by them.
  // npm test and test:process ask for it (FERRY_TEST_PREPARE_DATA_DIR=1); the other tiers need none.
  if (process.env['FERRY_TEST_PREPARE_DATA_DIR'] === '1') preparing = prepareDataDirInBackground();
}

export async function globalTeardown(): Promise<void> {
  await preparing;
  await releaseEmbeddedTestServer();
}
