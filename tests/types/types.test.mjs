// The package's TypeScript declarations under `tsc --strict`: the typed examples (a worker,
// a config module, a page) compile, and every deliberate error in sw-errors.ts and
// page-errors.ts is an error, and the one its directive names. Needs no build: the package
// is staged from package/package.json and types/ (package/pack.mjs, typesOnly).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stage } from '../../package/pack.mjs';
import { ROOT, PROJECTS, ERROR_FILES, copyChecks, tsc, diagnostics, directives, tokenAt } from './check.mjs';

let dir;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swcache-types-'));
  stage(path.join(dir, 'node_modules', 'swcache'), { typesOnly: true });
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('types: the examples compile under --strict and every @ts-expect-error is used', () => {
  copyChecks(dir);
  for (const project of PROJECTS) {
    const { status, output } = tsc(dir, project);
    assert.equal(status, 0, `tsc -p ${project} failed:\n${output}`);
  }
});

test('types: each deliberate error is the error its directive names, and nothing else is an error', () => {
  copyChecks(dir, { strip: true });
  const found = [];
  for (const project of PROJECTS) found.push(...diagnostics(tsc(dir, project).output));
  let expected = 0;
  for (const file of ERROR_FILES) {
    for (const d of directives(file)) {
      expected++;
      const here = found.filter((g) => g.file === file && g.line === d.line);
      assert.ok(here.length > 0, `${file}:${d.line}: no error, but the directive says: ${d.why}`);
      const named = here.some((g) => g.text.includes(d.needle) || tokenAt(dir, g) === d.needle);
      assert.ok(named, `${file}:${d.line} (${d.why}): tsc says\n  ${here.map((g) => g.text).join('\n  ')}\nwhich does not mention ${d.needle}`);
    }
  }
  const expectedAt = new Set(ERROR_FILES.flatMap((f) => directives(f).map((d) => `${f}:${d.line}`)));
  const stray = found.filter((g) => !expectedAt.has(`${g.file}:${g.line}`));
  assert.deepEqual(stray, [], 'errors no directive announces');
  assert.ok(expected >= 40, `${expected} deliberate errors checked`);
});

test('types: the quick start\'s src/sw.ts compiles in a program with the DOM lib, as a Vite project type-checks src/', () => {
  // Vite's TypeScript templates build with `tsc && vite build` over every file of src/,
  // with the DOM lib and not the worker's: the README's worker (the Vite fixture's
  // src/sw.ts, which vite.test.mjs holds to README.md) is checked there too.
  fs.copyFileSync(path.join(ROOT, 'tests/package/vite-site/src/sw.ts'), path.join(dir, 'quick-start-sw.ts'));
  fs.writeFileSync(path.join(dir, 'tsconfig.dom-sw.json'), JSON.stringify({
    extends: './tsconfig.page.json', compilerOptions: { moduleDetection: 'force' }, files: ['quick-start-sw.ts', 'page.ts'],
  }));
  copyChecks(dir);
  const { status, output } = tsc(dir, 'tsconfig.dom-sw.json');
  assert.equal(status, 0, `the quick start's worker fails tsc beside the pages' code:\n${output}`);
});

test('types: README.md\'s js and ts examples that import the page module compile under --strict', () => {
  // Each fenced js/ts block importing swcache/page (or the URL a site serves it at) becomes
  // readme-<line>.ts, type-checked as a page's module is (tsconfig.page.json's options).
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const files = [];
  for (const m of readme.matchAll(/^```(?:js|ts)\n([\s\S]*?)^```$/gm)) {
    if (!/from '(?:swcache\/page|\/swcache\/swcache-page\.js)'/.test(m[1])) continue;
    const file = `readme-${readme.slice(0, m.index).split('\n').length}.ts`;
    fs.writeFileSync(path.join(dir, file), m[1].replaceAll("'/swcache/swcache-page.js'", "'swcache/page'"));
    files.push(file);
  }
  assert.ok(files.length >= 2, `${files.length} README examples found`);
  fs.writeFileSync(path.join(dir, 'tsconfig.readme.json'), JSON.stringify({ extends: './tsconfig.page.json', files }));
  copyChecks(dir);
  const { status, output } = tsc(dir, 'tsconfig.readme.json');
  assert.equal(status, 0, `README.md's examples (readme-<line of README.md>.ts) fail tsc:\n${output}`);
});
