/** Where every benchmark writes its results: `bench-results/<name>.{json,md,svg}`. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const RESULTS_DIR = join(import.meta.dirname, '..', '..', 'bench-results');

/** Writes one file into bench-results/ and returns its path. */
export function writeResult(file: string, content: string): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, file);
  writeFileSync(path, content);
  return path;
}

/** Writes `<name>.json` (the figures) and `<name>.md` (the table people read); prints the table unless `print` is false. */
export function writeResults(name: string, result: unknown, markdown: string, print = true): void {
  writeResult(`${name}.json`, `${JSON.stringify(result, null, 2)}\n`);
  writeResult(`${name}.md`, markdown);
  if (print) console.log(markdown);
}
