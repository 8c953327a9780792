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

/** A browser benchmark's context besides: Chromium's version, the code measured, the machine's load around the run. */
export interface BrowserRunContext extends RunContext {
  chromium: string;
  /** HEAD and the source files that differed from it when the run started. */
  code: { commit: string; uncommitted: string[] };
  loadAverage: { start: number[]; end: number[] };
}

/** The context as a table's first words: "<date>, Node <version>, <cpu> (<n> cores)[, code <commit>[ + uncommitted changes]]". */
export function describeRun(context: RunContext, code?: { commit: string; dirty: boolean }): string {
  const machine = `${context.date}, Node ${context.node}, ${context.cpu} (${context.cores} cores)`;
  return code ? `${machine}, code ${code.commit}${code.dirty ? ' + uncommitted changes' : ''}` : machine;
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
