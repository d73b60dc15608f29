import { prepareTestServer, releaseEmbeddedTestServer } from './db.ts';

// Before the test files start in parallel: the test server is up (the embedded one
// is held until the teardown, so it is not stopped and started between files) and
// the migrated template is built once.
export async function globalSetup(): Promise<void> {
  await prepareTestServer();
}

export async function globalTeardown(): Promise<void> {
  await releaseEmbeddedTestServer();
}
