#!/usr/bin/env node
// Entry point for `npx ferry`. Ferry is TypeScript run directly by Node 24, which
// npm and npx put first on PATH through the pinned `node` devDependency.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `Ferry needs Node.js 24 or newer (this is ${process.version}). Run it through npm so the pinned Node is used: npx ferry ... or npm start\n`,
  );
  process.exit(2);
}
await import('../src/main.ts');
