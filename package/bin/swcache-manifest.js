#!/usr/bin/env node
// `npx swcache-manifest`: the native command's code, built for WebAssembly (see ../lib/wasi.js).
import { main } from '../lib/wasi.js';

await main('swcache-manifest');
