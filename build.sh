#!/usr/bin/env bash
# swcache build script. Every subcommand installs what it needs on a fresh machine
# and skips what is already there.
#   ./build.sh setup   toolchain, browsers (+ geckodriver, WebKitWebDriver, Xvfb), JS test deps
#   ./build.sh build   dist/ (swcache-sw.js, swcache-page.js + wasm, their .d.ts, swcache-remove-sw.js,
#                      sw.js, demo/), the server-side commands, and the same commands for WASI
#                      (target/wasm32-wasip1/cli/*.wasm: the npm package's `npx swcache-manifest`…)
#   ./build.sh package build, then the npm tarball target/package/swcache-<version>.tgz
#                      (version from Cargo.toml; package/package.json is its manifest)
#   ./build.sh test    native core tests, type checks, the tarball installed in a scratch site,
#                      e2e tests in headless Chromium, then the shared browser suites in Firefox ESR and WebKit
#   ./build.sh demo    build and serve the demo promo site on http://localhost:8080
#   ./build.sh bench   build, then benchmark against no worker, a floor worker, the reference site's
#                      worker and Workbox 7: bench/results.json, BENCHMARKS.md, bench/chart.svg;
#                      then the feed service (bench-feed)
#   ./build.sh bench-feed  only the feed service's benchmark (bench/feed.rs: 10,000 SSE clients,
#                      publishes/s on both stores, conditional GETs vs nginx, memory per client):
#                      bench/feed-results.json and BENCHMARKS.md's "Feed service" section.
#                      Extra arguments go to the load generator (--quick, --only PHASES, --help)
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")"
ROOT=$(pwd)
TARGET=wasm32-unknown-unknown
# geckodriver, built from crates.io (no prebuilt driver can be downloaded here); this
# version builds with rustc 1.95 from its own Cargo.lock.
GECKODRIVER_VERSION=0.37.1
# The wasm-bindgen CLI must match the crate's `wasm-bindgen = "=…"` exactly.
WASM_BINDGEN_VERSION=0.2.130
export PATH="$HOME/.cargo/bin:$PATH"
# The wasm builds keep a panic's source location (the panic handler never prints it, but
# the strings stay): name dependencies by their path under the registry, not under this
# machine's cargo home, so the shipped bytes (and the budgets' check) do not depend on
# where cargo lives. Set for every wasm32 build here (the bundles, the wasm tests, clippy)
# so they share one set of artifacts.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="--remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}/registry/src/="
# The browser builds (wasm32-unknown-unknown: the bundles, their checks, the adapters'
# tests) have a target directory of their own, so that they can run beside the native
# and WASI ones (cargo locks a target directory for the whole of a command).
BROWSER_TARGET_DIR=target/browser

log() { printf '\n== %s\n' "$*" >&2; }

# Debian packages, installed as root (sudo when not root), waiting for the dpkg lock a
# freshly booted machine's own upgrades may hold.
apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -q "$@"
}

setup() {
  for t in "$TARGET" wasm32-wasip1; do
    if ! rustup target list --installed | grep -qx "$t"; then
      log "adding Rust target $t"
      rustup target add "$t"
    fi
  done
  if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    log "adding Rust components rustfmt + clippy"
    rustup component add rustfmt clippy
  fi
  if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    log "installing Debian chromium + chromium-driver"
    apt_install chromium chromium-driver
  fi
  if [ ! -x /usr/bin/firefox-esr ]; then
    log "installing Debian firefox-esr"
    apt_install firefox-esr
  fi
  if [ ! -x /usr/bin/WebKitWebDriver ] || ! command -v Xvfb >/dev/null; then
    # WebKit (Safari's engine): WebKitGTK's MiniBrowser driven by WebKitWebDriver, on Xvfb.
    log "installing Debian webkit2gtk-driver + xvfb"
    apt_install webkit2gtk-driver xvfb
  fi
  if ! command -v redis-server >/dev/null || ! command -v nginx >/dev/null; then
    # The feed service's Redis store is tested against a real Redis; nginx is the
    # benchmark's reference static server for the feed document and, in the e2e tests,
    # the web server in front of the site and the feed service (the README's block).
    log "installing Debian redis-server + nginx"
    apt_install redis-server nginx
  fi
  if ! command -v openssl >/dev/null; then
    # The feed tests make a private CA and a certificate for the service behind TLS.
    log "installing Debian openssl"
    apt_install openssl
  fi
  if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
    log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (the worker and page builds' bindings; about 2 min)"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
  if [ "$(geckodriver --version 2>/dev/null | head -n1)" != "geckodriver $GECKODRIVER_VERSION" ]; then
    log "building geckodriver $GECKODRIVER_VERSION from crates.io (about 1.5 min on 2 cores)"
    cargo install geckodriver --version "$GECKODRIVER_VERSION" --locked
  fi
  if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/binaryen ] || [ ! -d node_modules/esbuild ] \
    || [ ! -d node_modules/typescript ] || [ ! -d node_modules/selenium-webdriver ] || [ ! -d node_modules/@biomejs/biome ] || [ package.json -nt node_modules/.package-lock.json ]; then
    log "installing JS test dependencies"
    if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
  fi
}

# -ocimfs 25: a function with one caller is inlined only up to 25 bytes (README, 'Design
# notes': both builds are smallest at 20-30; 100 cost the worker 2.1 KB gzip). -Oz runs
# twice: the second pass takes 0.3 KB more off the worker.
WASM_OPT_FLAGS=(-Oz -ocimfs 25 -Oz --strip-debug --strip-producers --enable-bulk-memory --enable-nontrapping-float-to-int
  --enable-sign-ext --enable-mutable-globals --enable-reference-types)

# A wasm build of the crate bound by wasm-bindgen (`--target` as given, then any further
# wasm-bindgen options), its wasm shrunk by wasm-opt and its imports given short names
# (tools/short-imports.mjs): target/engine/<feature>/<name>.js and <name>_bg.wasm.
bindgen() { # feature wasm-bindgen-target name [wasm-bindgen options]
  local feature=$1 target=$2 name=$3
  shift 3
  cargo build --lib --profile wasm --target "$TARGET" --target-dir "$BROWSER_TARGET_DIR" --no-default-features --features "$feature" >&2
  local out="target/engine/$feature"
  rm -rf "$out" && mkdir -p "$out"
  wasm-bindgen --target "$target" --no-typescript "$@" --out-dir "$out" --out-name "$name" "$BROWSER_TARGET_DIR/$TARGET/wasm/swcache.wasm" >&2
  node_modules/.bin/wasm-opt "${WASM_OPT_FLAGS[@]}" "$out/${name}_bg.wasm" -o "$out/${name}_bg.wasm" >&2
  node tools/short-imports.mjs "$out/${name}_bg.wasm" "$out/$name.js"
}

# dist/swcache-sw.js: the worker engine bound by wasm-bindgen, its glue and the shim.
build_worker() {
  log "building the worker engine (wasm, bound by wasm-bindgen)"
  bindgen sw no-modules swcache_sw
  mkdir -p dist
  node - target/engine/sw/swcache_sw_bg.wasm target/engine/sw/swcache_sw.js www/swcache-sw.shim.js dist/swcache-sw.js <<'JS'
// One classic script: wasm-bindgen's glue and the shim in one function scope (no globals
// but `self.swcache`), minified, then the wasm bytes as a string literal of code points
// 0-255 (gzips 3.8% larger than the binary; base64 gzips ~25% worse).
const fs = require('fs');
const esbuild = require('esbuild');
const [wasm, glue, shim, out] = process.argv.slice(2);
const joined = "(function () {\n'use strict';\n" + fs.readFileSync(glue, 'utf8') + '\n' + fs.readFileSync(shim, 'utf8') + '\n})();\n';
const { code } = esbuild.transformSync(joined, { minify: true, target: 'es2020', charset: 'utf8',
  banner: '/* swcache-sw.js: service-worker engine (Rust/wasm, wasm-bindgen) and its shim. Generated by build.sh. */' });
let text = '';
for (const b of fs.readFileSync(wasm)) {
  text += b === 0x5c ? '\\\\' : b === 0x27 ? "\\'" : b === 0x0a ? '\\n' : b === 0x0d ? '\\r' : String.fromCharCode(b);
}
const literal = /(["'`])\/\*@@WASM@@\*\/\1/;
if (!literal.test(code)) throw new Error('wasm placeholder not found in the minified shim');
fs.writeFileSync(out, code.replace(literal, () => "'" + text + "'"), 'utf8');
JS
}

build() {
  setup
  rm -rf dist && mkdir -p dist/demo
  # The browser builds beside the commands' (each mostly one core as it ends on a crate).
  side_by_side "the worker engine, then the page module and the hydration scheduler (wasm, bound by wasm-bindgen)" \
    "build_browser" \
    "the server-side commands (swcache-feed, swcache-manifest), then the same two for wasm32-wasip1 (the npm package's, run by node:wasi)" \
    "cargo build --release --bins && cargo build --profile cli --target wasm32-wasip1 --bins"
  cp www/swcache-remove-sw.js dist/swcache-remove-sw.js
  cp types/swcache-sw.d.ts types/swcache-page.d.ts dist/
  # The demo's worker, with the page module's files and their revisions injected.
  target/release/swcache-manifest dist --include swcache-page.js --include swcache-hydrate.js --include swcache-hydrate.wasm --prefix /swcache/ \
    --inject www/demo/sw.js --output dist/sw.js >&2
  cp -r www/demo/site/. dist/demo/
  log "dist/ written"
  ls -l dist >&2
  check_budgets
}

# dist/: the worker bundle, the page module, the scheduler's glue and wasm.
build_browser() {
  build_worker
  log "building the page module and the hydration scheduler (wasm, bound by wasm-bindgen)"
  # The scheduler: src/page on wasm-bindgen (--target web: an ES module the page module
  # imports on the first hydrate(), handed the wasm it fetches meanwhile).
  bindgen page web swcache-hydrate --omit-default-module-path
  cp target/engine/page/swcache-hydrate_bg.wasm dist/swcache-hydrate.wasm
  node_modules/.bin/esbuild target/engine/page/swcache-hydrate.js --minify --format=esm --target=es2020 --log-level=warning \
    --banner:js='/* swcache-hydrate.js: the hydration scheduler (Rust/wasm, wasm-bindgen glue for swcache-hydrate.wasm). Generated by build.sh. */' \
    --outfile=dist/swcache-hydrate.js >&2
  node_modules/.bin/esbuild www/swcache-page.js --minify --format=esm --target=es2020 --log-level=warning \
    --banner:js='/* swcache-page.js: swcache page module (registration, messages, hover prefetch, live invalidation, hydrate()). Generated by build.sh. */' \
    --outfile=dist/swcache-page.js >&2
}

# Fails the build when a file outgrows its budget in bench/budgets.json (gzip -9 bytes).
check_budgets() {
  node - <<'JS'
const fs = require('fs');
const zlib = require('zlib');
const budgets = JSON.parse(fs.readFileSync('bench/budgets.json', 'utf8'));
let over = false;
for (const [file, b] of Object.entries(budgets)) {
  if (file === 'about' || file === 'absentWhy') continue;
  const raw = fs.readFileSync(file);
  const gz = zlib.gzipSync(raw, { level: 9 }).length;
  const note = gz > b.target ? ` (target ${b.target}: ${gz - b.target} over)` : ' (within target)';
  console.error(`${file}: ${raw.length} bytes raw, ${gz} bytes gzip; budget ${b.max}${note}`);
  if (gz > b.max) {
    console.error(`BUDGET EXCEEDED: ${file} is ${gz} bytes gzip, over its budget of ${b.max} (bench/budgets.json)`);
    over = true;
  }
  for (const text of b.absent || []) {
    if (raw.includes(text)) {
      console.error(`BUDGET EXCEEDED: ${file} contains "${text}": ${budgets.absentWhy[text]}`);
      over = true;
    }
  }
}
process.exit(over ? 1 : 0);
JS
}

# The npm tarball from dist/ (package/pack.mjs): prints its name, size and files.
pack() {
  log "packing the npm package (target/package/)"
  node package/pack.mjs
}

package() {
  build
  pack
}

run_tests() {
  setup
  log "lint gates: rustfmt, biome, clippy (native targets and the WASI commands, beside both wasm builds and their tests)"
  cargo fmt --check
  node_modules/.bin/biome lint www tests bench package tools
  # Two cargo commands at a time keep both cores busy where one waits on a single crate.
  side_by_side "clippy: native targets, the WASI commands" \
    "cargo clippy --all-targets -- -D warnings && cargo clippy --profile cli --target wasm32-wasip1 --bins -- -D warnings" \
    "clippy: the worker and page builds, and their tests (wasm32)" "lint_wasm"
  build
  pack
  # The native tests beside the adapters' wasm-bindgen tests and the package's: the native
  # side is mostly one core (the feed simulation) or waiting (Redis, the service), the other
  # mostly compiling or waiting on a browser.
  # --release: the native tests reuse the dependencies the commands were just built with (one
  # optimised build of tokio/axum/redis instead of two).
  side_by_side \
    "the worker adapter's own tests (src/sw/tests.rs: wasm-bindgen-test in a service worker, headless Chromium), then the page adapter's (src/page/tests.rs, in a page), then the type declarations (tsc --strict) and the tarball installed in a scratch site" \
    "wasm_tests sw && wasm_tests page && $NODE_TEST tests/types/ tests/package/" \
    "native core tests, the commands and the feed service (on a real Redis)" \
    "cargo test --release"
  # Chromium's end-to-end tests beside its shared suites, then WebKit's beside Firefox's
  # (two browsers at a time: three at once on 2 cores made a timing test of the update
  # flow flaky). The feed's end-to-end file (about a minute) goes with the shared suites,
  # so that both sides take about as long.
  local e2e
  e2e=$(ls tests/e2e/*.test.mjs | grep -v '/feed\.test\.mjs$' | tr '\n' ' ')
  side_by_side "end-to-end tests (playwright-core + chromium)" "$NODE_TEST $e2e" \
    "the shared browser suites in Chromium (tests/suites/, as Firefox and WebKit run them), then the feed's end-to-end tests" \
    "$NODE_TEST tests/chromium/ tests/e2e/feed.test.mjs"
  side_by_side "end-to-end tests in WebKit (WebKitGTK MiniBrowser on Xvfb, WebKitWebDriver, selenium-webdriver)" "$NODE_TEST tests/webkit/" \
    "end-to-end tests in Firefox ESR (geckodriver, selenium-webdriver)" "$NODE_TEST tests/firefox/"
}

# clippy on both wasm builds, and on their tests (`--profile test`: cfg(test) and the
# wasm-bindgen-test dev-dependency).
lint_wasm() {
  local feature profile
  for feature in sw page; do
    for profile in dev test; do
      cargo clippy --lib --profile "$profile" --target "$TARGET" --target-dir "$BROWSER_TARGET_DIR" \
        --no-default-features --features "$feature" -- -D warnings
    done
  done
}

NODE_TEST="node --test --test-concurrency=1 --test-timeout=120000"

# An adapter's own tests (wasm-bindgen-test in headless Chromium): `sw` or `page`.
wasm_tests() { # feature
  CHROMEDRIVER=/usr/bin/chromedriver CARGO_TARGET_DIR="$BROWSER_TARGET_DIR" \
    cargo test --lib --profile wasm-test --target "$TARGET" --no-default-features --features "$1"
}

# Commands side by side, given as pairs of a name and a command line (each browser test
# file has its own servers on free ports and its own browser profile; all mostly wait on
# timers, browsers or one core): the first one's report streams, the others' follow it in
# turn. Fails if any did.
side_by_side() { # name command [name command]...
  local first=$1 command=$2 names=() pids=() logs=() status=0 i
  shift 2
  mkdir -p target/tmp
  while [ $# -gt 0 ]; do
    logs+=("target/tmp/tests-${#logs[@]}.log")
    names+=("$1")
    (eval "$2") >"${logs[-1]}" 2>&1 &
    pids+=($!)
    shift 2
  done
  log "$first (beside it, reported after: $(IFS=';'; echo "${names[*]}"))"
  (eval "$command") || { log "failed: $first"; status=1; }
  for i in "${!pids[@]}"; do
    local failed=0
    wait "${pids[$i]}" || failed=1
    log "${names[$i]}, run beside: $first (${logs[$i]})"
    cat "${logs[$i]}"
    if [ "$failed" -ne 0 ]; then log "failed: ${names[$i]}"; status=1; fi
  done
  return "$status"
}

demo() {
  build
  log "serving the demo"
  exec node tests/support/demo-server.mjs --port "${PORT:-8080}"
}

bench() {
  build
  log "benchmarking (one headless Chromium, five contenders; about 2-3 minutes)"
  node bench/main.mjs
  bench_feed
}

# The feed service's benchmark: bench/feed.rs (cargo example feed-bench) starts its own
# `swcache-feed serve` instances, Redis and nginx in a temporary directory and stops them by pid.
bench_feed() {
  if ! command -v redis-server >/dev/null || ! command -v nginx >/dev/null; then setup; fi
  log "building the feed service and its load generator"
  cargo build --release --bin swcache-feed --example feed-bench >&2
  log "benchmarking the feed service (10,000 SSE clients, Redis, nginx; about 2 minutes)"
  (
    # 10,000 clients and as many server sockets: raise the open-files limit as far as allowed.
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    exec target/release/examples/feed-bench --out bench/feed-results.json "$@"
  )
  node bench/write-report.mjs
}

case "${1:-}" in
  setup) setup ;;
  build) build ;;
  build-worker) setup; build_worker; check_budgets ;;
  package) package ;;
  test) run_tests ;;
  demo) demo ;;
  bench) bench ;;
  bench-feed) shift; bench_feed "$@" ;;
  *) echo "usage: $0 setup|build|package|test|demo|bench|bench-feed" >&2; exit 2 ;;
esac
