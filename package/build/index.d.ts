// swcache/build: injectManifest() for any bundler or a post-build script (Node 20+).

/** One precache entry, as swcache.start({precache}) takes it. */
export interface ManifestEntry {
  url: string;
  /** The first 16 hex digits of the SHA-256 of the file, or null for a content-hashed name. */
  revision: string | null;
}

export interface InjectManifestOptions {
  /** The worker script, with exactly one `self.swcacheManifest` (`precache: self.swcacheManifest`). */
  swSrc: string;
  /** Where the worker with the manifest is written (may be swSrc itself: rewritten in place). */
  swDest: string;
  /** The build directory whose files are listed (URLs: `prefix` + the file's path). */
  globDirectory: string;
  /** Globs of the files to list, relative to globDirectory. Default: every file but dotfiles (`**\/*`). */
  globPatterns?: string[];
  /** Globs of files to leave out. Default: `['**\/*.map']`. */
  globIgnores?: string[];
  /** Globs of files whose names change with their content (`assets/**`): revision null, fetched once. */
  hashed?: string[];
  /** The URL path globDirectory is served at. Default `/`. */
  prefix?: string;
  /** Refuse (nothing written) if a listed file is bigger: bytes, or '2MB', '500kB', '1MiB'. Default: no limit. */
  maxFileSize?: number | string;
  /** Warn, naming the biggest files, above this total: bytes or '5MB'; false: never. Default '5MB'. */
  warnSize?: number | string | false;
  /** What relative paths are relative to. Default: process.cwd(). */
  cwd?: string;
  /** Where the summary and warnings go. Default: console; false: nowhere. */
  logger?: { info(message: string): void; warn(message: string): void } | false;
}

export interface InjectManifestResult {
  /** The absolute path written. */
  swDest: string;
  /** The manifest injected, sorted by path. */
  entries: ManifestEntry[];
  count: number;
  /** What swcache-manifest warned of (a glob that matched nothing, the total over warnSize, a skipped symlink). */
  warnings: string[];
}

/** Injects the build's precache manifest into the worker. Rejects with a SwcacheBuildError, writing nothing, when an option or the input is wrong. */
export function injectManifest(options: InjectManifestOptions): Promise<InjectManifestResult>;

export class SwcacheBuildError extends Error {
  /** swcache-manifest's exit status: 2 bad options or selection, 1 a file could not be read or written, or no single placeholder. */
  status: number;
}
