#!/usr/bin/env bash
# swcache build script. Every subcommand installs what it needs on a fresh machine
# and skips what is already there.
#   ./build.sh setup   toolchain, browser, JS test deps
#   ./build.sh build   dist/ (swcache-sw.js, swcache-page.js + wasm, sw.js, demo/)
#   ./build.sh test    native core tests, wasm tests in a real service worker, e2e tests
#   ./build.sh demo    build and serve the demo promo site on http://localhost:8080
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")"
ROOT=$(pwd)
WASM_BINDGEN_VERSION=0.2.130
TARGET=wasm32-unknown-unknown
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\n== %s\n' "$*" >&2; }

setup() {
  if ! rustup target list --installed | grep -qx "$TARGET"; then
    log "adding Rust target $TARGET"
    rustup target add "$TARGET"
  fi
  if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
    log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes)"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
  fi
  if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    log "installing Debian chromium + chromium-driver"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium chromium-driver
  fi
  if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/binaryen ] || [ package.json -nt node_modules/.package-lock.json ]; then
    log "installing JS test dependencies"
    if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
  fi
}

# Builds the crate for one feature and runs wasm-bindgen; prints the output dir.
bindgen() { # feature target-kind
  local feature=$1 kind=$2 out="target/bindgen-$1"
  cargo build --release --target "$TARGET" --no-default-features --features "$feature" >&2
  rm -rf "$out" && mkdir -p "$out"
  cp "target/$TARGET/release/swcache.wasm" "$out/swcache_$feature.wasm"
  wasm-bindgen --target "$kind" --no-typescript --out-dir "$out" "$out/swcache_$feature.wasm" >&2
  # Debian's binaryen breaks wasm-bindgen's externref table; npm's (132+) is fine.
  node_modules/.bin/wasm-opt -Oz --enable-reference-types --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals \
    "$out/swcache_${feature}_bg.wasm" -o "$out/swcache_${feature}_bg.wasm" >&2
  echo "$out"
}

build() {
  setup
  log "building the worker engine (wasm)"
  local sw page
  sw=$(bindgen sw no-modules)
  rm -rf dist && mkdir -p dist/demo
  node - "$sw/swcache_sw.js" "$sw/swcache_sw_bg.wasm" www/swcache-sw.shim.js dist/swcache-sw.js <<'JS'
const fs = require('fs');
const [glue, wasm, shim, out] = process.argv.slice(2);
const src = fs.readFileSync(shim, 'utf8')
  .replace('/*@@GLUE@@*/', () => fs.readFileSync(glue, 'utf8'))
  .replace('/*@@WASM@@*/', () => fs.readFileSync(wasm).toString('base64'));
fs.writeFileSync(out, src);
JS
  if [ -d src/page ]; then
    log "building the page module (wasm)"
    page=$(bindgen page web)
    cp "$page/swcache_page.js" dist/swcache-page-glue.js
    cp "$page/swcache_page_bg.wasm" dist/swcache_page_bg.wasm
    cp www/swcache-page.js dist/swcache-page.js
  fi
  cp www/demo/sw.js dist/sw.js
  cp -r www/demo/site/. dist/demo/
  log "dist/ written"
  ls -l dist >&2
  printf 'swcache-sw.js: %s bytes raw, %s bytes gzip\n' "$(wc -c < dist/swcache-sw.js)" "$(gzip -9c dist/swcache-sw.js | wc -c)" >&2
}

run_tests() {
  build
  log "native core tests"
  cargo test --lib
  log "wasm adapter tests in a real service worker (headless chromium)"
  CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=120 \
    cargo test --target "$TARGET" --features sw --test sw_adapter
  log "end-to-end tests (playwright-core + chromium)"
  node --test --test-concurrency=1 --test-timeout=120000 tests/e2e/
}

demo() {
  build
  log "serving the demo"
  exec node tests/support/demo-server.mjs --port "${PORT:-8080}"
}

case "${1:-}" in
  setup) setup ;;
  build) build ;;
  test) run_tests ;;
  demo) demo ;;
  *) echo "usage: $0 setup|build|test|demo" >&2; exit 2 ;;
esac
