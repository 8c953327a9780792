/** Bundles the Preact client with esbuild into dist/client (app.js, index.html, styles.css). */
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const out = join(root, 'dist', 'client');
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: [join(root, 'client', 'main.tsx')],
  outfile: join(out, 'app.js'),
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
const bytes = Object.values(result.metafile.outputs).find((o) => o.entryPoint)?.bytes ?? 0;
console.log(`client built: dist/client/app.js ${(bytes / 1024).toFixed(0)} KB`);
