import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

// The browser app, built into web/dist and served by `ferry start` / `ferry api`
// at `/`. Compressed copies (.gz) are written beside every text asset so the
// server can send them without compressing on each request.
function precompress(): Plugin {
  return {
    name: 'ferry-precompress',
    apply: 'build',
    async closeBundle() {
      const dist = join(import.meta.dirname, 'dist');
      const files = await readdir(dist, { recursive: true, withFileTypes: true });
      for (const entry of files) {
        const file = join(entry.parentPath, entry.name);
        if (!entry.isFile() || !/\.(js|css|html|svg|json|txt)$/.test(file)) continue;
        await writeFile(`${file}.gz`, gzipSync(await readFile(file), { level: 9 }));
      }
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react(), precompress()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 900,
    sourcemap: false,
  },
  server: {
    proxy: {
      '/api': 'http://localhost:8080',
      '/d/': 'http://localhost:8080',
    },
  },
});
