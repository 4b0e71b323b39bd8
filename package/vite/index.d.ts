// swcache/vite: the Vite plugin (Vite 5 or later). `import swcache from 'swcache/vite'`,
// `plugins: [swcache()]`.
import type { Plugin } from 'vite';

export interface SwcacheViteOptions {
  /** The worker's source, relative to Vite's root: TypeScript or JavaScript, a classic script saying `self.swcacheManifest` once. Default: the first of src/sw.ts, src/sw.js, sw.ts, sw.js, then <publicDir>/<swDest> (public/sw.js). */
  sw?: string;
  /** The worker's file in the output, served at `base + swDest`. Default 'sw.js'. */
  swDest?: string;
  /** Where the engine's files go in the output (`importScripts('/swcache/swcache-sw.js')`). Default 'swcache'. */
  engineDir?: string;
  /** Globs (relative to the output directory) of the files to precache. Default: every file but dotfiles. */
  include?: string[];
  /** Globs of files to leave out, beside `**\/*.map` and the engine's worker script. */
  exclude?: string[];
  /** Globs of files whose names change with their content: revision null, fetched once. Default: the files Vite named with a content hash (its `[hash]` patterns). */
  hashed?: string[];
  /** Fail the build, naming the files, if a precached file is bigger: bytes, or '2MB', '500kB', '1MiB'. Default: no limit. */
  maxFileSize?: number | string;
  /** Warn, naming the biggest files, when the precache adds up to more: bytes or '5MB'; false: never. Default '5MB'. */
  warnSize?: number | string | false;
  /** Serve the worker under `vite dev` too (with an empty precache). Default false: /sw.js answers 404 with why. */
  dev?: boolean;
}

export default function swcache(options?: SwcacheViteOptions): Plugin;

export class SwcacheBuildError extends Error {
  status: number;
}
