import { backends, pgliteTemplatePath } from './db.ts';

// Builds the migrated PGlite template once before the test files start in parallel.
export async function globalSetup(): Promise<void> {
  if (backends().includes('pglite')) await pgliteTemplatePath();
}
