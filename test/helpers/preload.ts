import module from 'node:module';
import { guardTier } from './tiers.ts';

// Loaded into every test process by the npm test scripts (--import).

// Node keeps the type-stripped, compiled TypeScript of the test files and of
// Ferry's modules: each test process (one per file) then starts in about two
// thirds of the CPU time. The same cache `ferry` itself uses (bin/ferry.mjs).
module.enableCompileCache();

// A test that needs more than its file's name says fails at once (see tiers.ts).
guardTier();
