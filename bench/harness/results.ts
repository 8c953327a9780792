/** Where every benchmark writes its results (`bench-results/<name>.{json,md,svg}`), and what each result says about the run. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

export const RESULTS_DIR = join(import.meta.dirname, '..', '..', 'bench-results');

/** When and on what a benchmark ran: every result starts with it. */
export interface RunContext {
  date: string;
  node: string;
  cpu: string;
  cores: number;
}

/** The run's context now. */
export function runContext(): RunContext {
  return { date: new Date().toISOString(), node: process.versions.node, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length };
}

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
