// Runs tsc (the pinned devDependency) over the typed examples and the deliberate errors in
// this folder, inside a directory whose node_modules/swcache is the package: a staged copy
// (types.test.mjs) or the tarball installed by npm (tests/package/install.test.mjs). The
// package is resolved as a site resolves it, through its package.json `exports`.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '../..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** The two programs: the worker's (WebWorker lib) and the page's (DOM lib). */
export const PROJECTS = ['tsconfig.sw.json', 'tsconfig.page.json'];
/** Files whose every error must be announced by the `@ts-expect-error` line above it. */
export const ERROR_FILES = ['sw-errors.ts', 'page-errors.ts'];

/** Copies the .ts files and tsconfigs into `dir`; with `strip`, the directives are made plain comments (line numbers kept). */
export function copyChecks(dir, { strip = false } = {}) {
  for (const f of fs.readdirSync(HERE)) {
    if (!f.endsWith('.ts') && !f.endsWith('.json')) continue;
    let text = fs.readFileSync(path.join(HERE, f), 'utf8');
    if (strip) text = text.replaceAll('// @ts-expect-error', '// (expected error)');
    fs.writeFileSync(path.join(dir, f), text);
  }
}

/** `tsc -p <project>` in `dir`: {status, output}. */
export function tsc(dir, project) {
  if (!fs.existsSync(TSC)) throw new Error('typescript is not installed (run ./build.sh setup)');
  const r = spawnSync(process.execPath, [TSC, '-p', project, '--pretty', 'false'], { cwd: dir, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, output: (r.stdout || '') + (r.stderr || '') };
}

/** tsc's diagnostics: {file, line, col, code, text} (text: the message with its chain). */
export function diagnostics(output) {
  const out = [];
  for (const line of output.split('\n')) {
    const m = line.match(/^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/);
    if (m) out.push({ file: m[1], line: +m[2], col: +m[3], code: m[4], text: m[5] });
    else if (out.length && /^\s/.test(line)) out[out.length - 1].text += '\n' + line.trim();
  }
  return out;
}

/**
 * The directives of an error file: {line (of the code below), why, needle}, from
 * `// @ts-expect-error <why> -- <needle>`.
 */
export function directives(file) {
  const lines = fs.readFileSync(path.join(HERE, file), 'utf8').split('\n');
  const out = [];
  lines.forEach((l, i) => {
    const m = l.match(/\/\/ @ts-expect-error (.*?) -- (.*)$/);
    if (m) out.push({ line: i + 2, why: m[1], needle: m[2].trim().replace(/^'(.*)'$/, '$1') });
    else if (l.includes('@ts-expect-error')) throw new Error(`${file}:${i + 1}: a directive needs '<why> -- <needle>'`);
  });
  return out;
}

/** The identifier (or literal) starting at a diagnostic's position in `dir/file`. */
export function tokenAt(dir, d) {
  const line = fs.readFileSync(path.join(dir, d.file), 'utf8').split('\n')[d.line - 1] || '';
  const m = line.slice(d.col - 1).match(/^(?:[A-Za-z_$][\w$]*|'[^']*'|"[^"]*"|\S+)/);
  return m ? m[0] : '';
}
