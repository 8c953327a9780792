/**
 * Bundles the Preact clients with esbuild into dist/client: the meeting app (app.js,
 * index.html, styles.css) and the operator dashboard (admin.js with its uPlot charts,
 * admin.css, admin.html).
 */
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const out = join(root, 'dist', 'client');
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: { app: join(root, 'client', 'main.tsx'), admin: join(root, 'client', 'admin', 'main.tsx') },
  outdir: out,
  bundle: true,
  format: 'esm',
  target: ['chrome110', 'firefox115', 'safari16'],
  minify: true,
  sourcemap: true,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  metafile: true,
  logLevel: 'warning',
});
copyFileSync(join(root, 'client', 'index.html'), join(out, 'index.html'));
copyFileSync(join(root, 'client', 'styles.css'), join(out, 'styles.css'));
copyFileSync(join(root, 'client', 'admin', 'admin.html'), join(out, 'admin.html'));
const sizes = Object.entries(result.metafile.outputs)
  .filter(([, o]) => o.entryPoint)
  .map(([file, o]) => `${file.replace(/^.*\//, '')} ${(o.bytes / 1024).toFixed(0)} KB`);
console.log(`client built: dist/client/ ${sizes.join(', ')}`);
