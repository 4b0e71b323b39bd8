// swcache/vite: the Vite plugin. `vite build` gets the engine's files in the output
// (`/swcache/swcache-sw.js`, and the page module when pages import it by URL), the site's
// worker (src/sw.ts or .js, compiled; or public/sw.js) at `/sw.js` with the build's
// precache manifest in place of its `self.swcacheManifest` (content-hashed assets with
// revision null, every other file revisioned by content: swcache-manifest's WebAssembly
// build, in-process), and a size report that warns with the biggest files instead of
// failing. `vite dev` serves the engine's files, and the worker with `dev: true` (or says
// why not).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { manifest, injected, withDefaults, SwcacheBuildError } from '../lib/manifest.js';
import { guestPath } from '../lib/wasi.js';

export { SwcacheBuildError };

const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
/** The engine's files a site serves at `/swcache/`: the worker's, and the page module's. */
const WORKER_FILES = ['swcache-sw.js'];
const PAGE_FILES = ['swcache-page.js', 'swcache-hydrate.js', 'swcache-hydrate.wasm'];
const TYPES = { '.js': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm' };
const SOURCES = ['src/sw.ts', 'src/sw.js', 'sw.ts', 'sw.js'];
/** `self.swcacheManifest` as swcache-manifest finds it: a whole expression, or spread. */
const PLACEHOLDER = /(^|[^\w$.]|\.\.\.)self\.swcacheManifest(?![\w$])/g;

const OPTIONS = ['sw', 'swDest', 'engineDir', 'include', 'exclude', 'hashed', 'maxFileSize', 'warnSize', 'dev'];
const NAMES = {
  '--include': 'include', '--exclude': 'exclude', '--hashed': 'hashed', '--max-file-size': 'maxFileSize',
  '--warn-size': 'warnSize', '--prefix': 'base', '--inject': 'sw', DIR: 'the build output',
};

function bad(msg) {
  throw new SwcacheBuildError(`swcache: ${msg}`, 2);
}

function checkOptions(o) {
  if (o === null || typeof o !== 'object') bad('swcache(options) takes an object');
  for (const [k, v] of Object.entries(o)) {
    if (!OPTIONS.includes(k)) bad(`'${k}' is not an option of swcache/vite (options: ${OPTIONS.join(', ')})`);
    if (v === undefined) continue;
    const globs = ['include', 'exclude', 'hashed'].includes(k);
    if (globs && !(Array.isArray(v) && v.every((g) => typeof g === 'string'))) bad(`option '${k}' must be an array of glob strings`);
    if (['sw', 'swDest', 'engineDir'].includes(k) && (typeof v !== 'string' || !v)) bad(`option '${k}' must be a non-empty string`);
    if (k === 'dev' && typeof v !== 'boolean') bad("option 'dev' must be true or false");
  }
}

/** What each placeholder of an output pattern stands for in a file's name. */
const PLACEHOLDERS = { hash: '[\\w-]+', ext: '[^/]*', extname: '[^/]*', format: '\\w+' };
const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whether the bundle named `file` (a chunk or an asset) with a content hash: its output
 * pattern (a function's, asked for this file) says `[hash]`, and the file's name is that
 * pattern filled in with the file's own name (an asset a plugin emitted with a `fileName`
 * of its own has no name, whatever the pattern and however its fixed name looks). */
function namedByHash(file, output) {
  let pattern = file.type === 'chunk' ? (file.isEntry ? output.entryFileNames : output.chunkFileNames) : output.assetFileNames;
  if (typeof pattern === 'function') {
    try {
      pattern = pattern(file);
    } catch {
      return false;
    }
  }
  if (typeof pattern !== 'string' || !pattern.includes('[hash')) return false;
  const names = file.type === 'chunk' ? [file.name] : (file.names ?? (file.name ? [file.name] : []));
  return names.filter(Boolean).some((name) => {
    // An asset's [name] is its name without the extension, which [ext] and [extname] give.
    const extname = file.type === 'asset' ? path.extname(name) : '';
    const own = file.type === 'asset' ? { name: name.slice(0, name.length - extname.length), ext: extname.slice(1), extname } : { name };
    const shape = pattern.replace(/\[(\w+)(?::\d+)?\]|[^[]+|\[/g, (text, placeholder) =>
      placeholder ? (placeholder in own ? escapeRegExp(own[placeholder]) : (PLACEHOLDERS[placeholder] ?? '.*')) : escapeRegExp(text));
    return new RegExp(`^${shape}$`).test(file.fileName);
  });
}

/** A glob matching exactly `name` (globset's metacharacters in brackets). */
const literalGlob = (name) => name.replace(/[*?[\]{}]/g, (c) => `[${c}]`);

/** The worker's source compiled to a classic script: TypeScript's types removed, nothing bundled. */
async function compileWorker(file) {
  let js = fs.readFileSync(file, 'utf8');
  if (/\.[cm]?tsx?$/.test(file)) {
    const vite = await import('vite');
    const out = vite.transformWithOxc
      ? await vite.transformWithOxc(js, file, { lang: 'ts' })
      : await vite.transformWithEsbuild(js, file, { loader: 'ts', format: 'esm' });
    // A file with only type imports compiles to one that still says `export {}` (it was a
    // module): nothing a classic script cannot do without.
    js = out.code.replace(/^\s*export\s*\{\s*\};?[ \t]*$/gm, '');
  }
  // A JavaScript source is copied as it is: an import in it is as fatal to the worker.
  const mod = js.match(/^\s*(import\b\s*(?![(.])[^;\n]*|export\b[^;\n]*)/m);
  if (mod) {
    bad(`${file}: the worker is a classic script (it loads the engine with importScripts), so it cannot ` +
      `use modules: \`${mod[1].trim()}\` (type-only imports are fine)`);
  }
  return js;
}

/**
 * The plugin. Options (all optional):
 * - `sw`: the worker's source, relative to Vite's root [first of src/sw.ts, src/sw.js,
 *   sw.ts, sw.js, then <publicDir>/<swDest>]. It must say `self.swcacheManifest` once.
 * - `swDest`: the worker's file in the output [sw.js]: served at `base + swDest`.
 * - `engineDir`: where the engine's files go in the output [swcache].
 * - `include`, `exclude`, `hashed`: globs, relative to the output directory, of the files
 *   to precache [everything], to leave out [added to `**\/*.map`], and whose names change
 *   with their content [the files Vite named with a content hash: revision null; files
 *   copied from publicDir, or named without a hash, are revisioned by content].
 * - `maxFileSize`: fail the build, naming the files, if one is bigger [none].
 * - `warnSize`: warn, naming the biggest files, above this total [5MB]; false: never.
 * - `dev`: serve the worker under `vite dev` too (with an empty precache) [false].
 */
export default function swcache(options = {}) {
  checkOptions(options);
  const o = withDefaults({ swDest: 'sw.js', engineDir: 'swcache', include: [], exclude: [], warnSize: '5MB', dev: false }, options);
  // Written as the URL paths they are served at ('/sw.js', '/swcache/'): names in the output.
  o.swDest = o.swDest.replace(/^\/+/, '');
  o.engineDir = o.engineDir.replace(/^\/+|\/+$/g, '');
  if (!o.swDest || !o.engineDir) bad("options 'swDest' and 'engineDir' name a file and a directory in the output");
  let config, source, pageByUrl = false, told = false;
  const engineUrl = () => `${config.base}${o.engineDir}/`;
  /** The build's output directory, absolute. */
  const outputDir = (output) => output.dir || path.resolve(config.root, config.build.outDir);

  /** An SSR build, or (Vite 6+, plugins shared between environments) another environment
   * than the browser's: left alone. `config` is then the last environment's. */
  const notClient = (ctx) => (ctx.environment ? ctx.environment.config.consumer !== 'client' : !!config.build.ssr);

  /** The worker's source file, and whether it is in publicDir (copied as it is by Vite). */
  function findSource() {
    const root = config.root;
    if (o.sw) {
      const file = path.resolve(root, o.sw);
      if (!fs.existsSync(file)) bad(`the worker source ${o.sw} does not exist (option 'sw', relative to ${root})`);
      const inPublic = !!config.publicDir && file.startsWith(path.resolve(config.publicDir) + path.sep);
      // Vite copies it as it is, under its path in publicDir: that is the file to inject into.
      const copied = inPublic && path.relative(config.publicDir, file).split(path.sep).join('/');
      if (inPublic && copied !== o.swDest) {
        bad(`the worker source ${o.sw} is in publicDir, which Vite copies to ${copied} in the output: ` +
          `say swDest: '${copied}', or move it out of publicDir`);
      }
      return { file, inPublic };
    }
    for (const s of SOURCES) if (fs.existsSync(path.join(root, s))) return { file: path.join(root, s), inPublic: false };
    const pub = config.publicDir && path.join(config.publicDir, o.swDest);
    if (pub && fs.existsSync(pub)) return { file: pub, inPublic: true };
    bad(`no worker source: write src/sw.ts (or src/sw.js, or ${path.relative(root, config.publicDir || 'public')}/${o.swDest}) ` +
      "with importScripts('" + engineUrl() + "swcache-sw.js') and swcache.start({ ..., precache: self.swcacheManifest }), " +
      "or name it with swcache({ sw: 'path/to/sw.ts' })");
  }

  return {
    name: 'swcache',
    enforce: 'pre',

    config() {
      // The page module finds its wasm next to itself (new URL(..., import.meta.url)):
      // pre-bundling would move it away from the wasm.
      return { optimizeDeps: { exclude: ['swcache'] } };
    },

    configResolved(resolved) {
      config = resolved;
      if (!config.base.startsWith('/')) {
        config.logger.warn(`swcache: base '${config.base}' is not a path from the site's root; the precache URLs assume '/'`);
      }
    },

    buildStart() {
      if (config.command !== 'build') return;
      source = findSource();
      // Not a module of the bundle: `vite build --watch` builds again when it changes too.
      this.addWatchFile(source.file);
    },

    resolveId(id) {
      // The README's plain `import ... from '/swcache/swcache-page.js'`: a file the site
      // serves, not a module to bundle. The plugin puts it (and its wasm) in the output.
      if (id.startsWith(engineUrl()) || id.startsWith(`/${o.engineDir}/`)) {
        if (PAGE_FILES.some((f) => id.endsWith(`/${f}`))) pageByUrl = true;
        return { id, external: true };
      }
      return null;
    },

    async generateBundle() {
      if (notClient(this)) return;
      for (const f of [...WORKER_FILES, ...(pageByUrl ? PAGE_FILES : [])]) {
        this.emitFile({ type: 'asset', fileName: `${o.engineDir}/${f}`, source: fs.readFileSync(path.join(DIST, f)) });
      }
      if (!source.inPublic) {
        this.emitFile({ type: 'asset', fileName: o.swDest, source: await compileWorker(source.file) });
      }
    },

    // After every other plugin's writeBundle (they may still be writing files into the
    // output, a static-copy plugin say), one output at a time.
    writeBundle: { order: 'post', sequential: true, async handler(output, bundle) {
      if (notClient(this)) return;
      const outDir = outputDir(output);
      const sw = path.join(outDir, o.swDest);
      if (!fs.existsSync(sw)) bad(`${path.relative(config.root, sw)} is missing after the build (is ${o.swDest} in publicDir?)`);
      // Vite copies publicDir once per build: a second output into the same directory (as
      // @vitejs/plugin-legacy adds) finds the copy injected already.
      if (source.inPublic) fs.copyFileSync(source.file, sw);
      const before = fs.readFileSync(sw, 'utf8');
      const args = [guestPath(outDir), '--prefix', config.base.startsWith('/') ? config.base : '/', '--inject', guestPath(sw)];
      for (const g of o.include) args.push('--include', g);
      for (const g of ['**/*.map', `${o.engineDir}/swcache-sw.js`, `${o.engineDir}/swcache-remove-sw.js`, ...o.exclude]) args.push('--exclude', g);
      // The files Vite named with a content hash, as written: the bundle as every plugin's
      // generateBundle left it (Vite drops the empty facade chunks of HTML entries after ours).
      const hashedNames = Object.values(bundle).filter((f) => namedByHash(f, output)).map((f) => f.fileName);
      for (const g of o.hashed || hashedNames.map(literalGlob)) args.push('--hashed', g);
      if (o.maxFileSize !== undefined) args.push('--max-file-size', String(o.maxFileSize));
      args.push('--warn-size', o.warnSize === false ? 'none' : String(o.warnSize));
      let r;
      try {
        r = await manifest(args, { cwd: config.root, names: NAMES, context: 'swcache' });
      } catch (e) {
        // No worker with a placeholder left in it reaches a deploy: it would fail to start.
        fs.rmSync(sw, { force: true });
        // The placeholder is the worker source's to fix: named with the file it built.
        const src = source.inPublic ? sw : `${path.relative(config.root, source.file)} (built to ${sw})`;
        let msg = e.message.replace(`${guestPath(sw)}: `, `${src}: `).replace(/; a script injected already has none left: inject into a fresh copy, or use --output\)/, ')');
        if (!source.inPublic) {
          // The lines the command gives are the compiled worker's, just removed: the source's instead.
          const text = fs.readFileSync(source.file, 'utf8');
          const lines = [...text.matchAll(PLACEHOLDER)].map((m) => text.slice(0, m.index + m[1].length).split('\n').length);
          msg = msg.replace(/appears (\d+) times \(lines [\d, ]+\)/, (all, n) => (Number(n) === lines.length ? `appears ${n} times (lines ${lines.join(', ')})` : all));
        }
        this.error(msg);
      }
      const entries = injected(before, fs.readFileSync(sw, 'utf8'));
      for (const w of r.warnings) config.logger.warn(`swcache: ${w}`);
      const hashed = entries.filter((e) => e.revision === null).length;
      config.logger.info(`swcache: ${path.relative(config.root, sw)} precaches ${entries.length} files (${hashed} content-hashed); ${r.summary.replace(/^\d+ files?( \([^)]*\))?, /, '').replace(/, injected into .*$/, '')}`);
    } },

    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const url = new URL(req.url, 'http://localhost').pathname;
        const base = server.config.base;
        const engine = `${base}${o.engineDir}/`;
        if (url.startsWith(engine) && [...WORKER_FILES, ...PAGE_FILES].includes(url.slice(engine.length))) {
          const f = path.join(DIST, url.slice(engine.length));
          res.setHeader('content-type', TYPES[path.extname(f)]);
          res.setHeader('cache-control', 'no-cache');
          return res.end(fs.readFileSync(f));
        }
        if (url !== `${base}${o.swDest}`) return next();
        if (!o.dev) {
          const why = `swcache: ${base}${o.swDest} is not served by vite dev: a caching worker would answer ` +
            'with stale modules past hot reloads. `vite build && vite preview` runs it; swcache({ dev: true }) serves it here ' +
            '(with an empty precache).';
          if (!told) { server.config.logger.warn(why); told = true; }
          res.statusCode = 404;
          res.setHeader('content-type', 'text/plain; charset=utf-8');
          return res.end(why);
        }
        Promise.resolve().then(async () => {
          const code = await compileWorker(findSource().file);
          res.setHeader('content-type', TYPES['.js']);
          res.setHeader('cache-control', 'no-cache');
          res.end(code.replace(PLACEHOLDER, '$1[]'));
        }).catch(next);
      });
    },
  };
}
