// Gives a wasm-bindgen build's imports short names, in the wasm and in its glue alike.
//
//   node tools/short-imports.mjs module_bg.wasm module.js
//
// wasm-bindgen names every import after its JS name plus a 16-digit hash
// (`__wbg_addRoutes_da2b0a65c7026ffe`) under a module named after the output file, and
// both names appear twice: in the wasm's import section (module and name, for every
// import) and as the keys of the glue's import object. Minifiers leave both alone (one
// is a property name, the other binary). This renames each import to a short identifier
// (`a`, `b`, … `aa`, …) and the module to `a`, rewriting the import section and the
// glue's identifiers and module string; nothing else in either file changes. It runs
// after wasm-opt and before esbuild. Both builds (the worker and the page's scheduler)
// use it; the saving is in BENCHMARKS.md's byte table (bench/notes.md).
import fs from 'node:fs';

const [wasmPath, gluePath] = process.argv.slice(2);
if (!wasmPath || !gluePath) throw new Error('usage: short-imports.mjs module_bg.wasm module.js');
const wasm = fs.readFileSync(wasmPath);
let glue = fs.readFileSync(gluePath, 'utf8');

/** Reads an unsigned LEB128 at `at`: [value, next offset]. */
function leb(buf, at) {
  let value = 0, shift = 0, byte;
  do {
    byte = buf[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, at];
}
function encodeLeb(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return Buffer.from(out);
}
function name(s) {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([encodeLeb(b.length), b]);
}
/** Short identifiers: a … z, A … Z, then two letters and so on. */
function shortName(i) {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let s = '';
  do {
    s = letters[i % 52] + s;
    i = Math.floor(i / 52) - 1;
  } while (i >= 0);
  return s;
}
/** The length of an import's description (after its kind byte) at `at`. */
function descEnd(kind, at) {
  const limits = (p) => {
    const flags = wasm[p++];
    [, p] = leb(wasm, p);
    if (flags & 1) [, p] = leb(wasm, p);
    return p;
  };
  switch (kind) {
    case 0: return leb(wasm, at)[1]; // function: type index
    case 1: return limits(at + 1); // table: reference type, limits
    case 2: return limits(at); // memory: limits
    case 3: return at + 2; // global: value type, mutability
    case 4: return leb(wasm, at + 1)[1]; // tag: attribute, type index
    default: throw new Error(`unknown import kind ${kind}`);
  }
}

if (wasm.readUInt32LE(0) !== 0x6d736100) throw new Error(`${wasmPath}: not a wasm module`);
const out = [wasm.subarray(0, 8)];
const renamed = new Map();
const modules = new Map();
let at = 8;
while (at < wasm.length) {
  const id = wasm[at];
  const [size, body] = leb(wasm, at + 1);
  const end = body + size;
  if (id !== 2) {
    out.push(wasm.subarray(at, end));
    at = end;
    continue;
  }
  let [count, p] = leb(wasm, body);
  const entries = [encodeLeb(count)];
  while (count--) {
    let len;
    [len, p] = leb(wasm, p);
    const module = wasm.toString('utf8', p, p + len);
    p += len;
    [len, p] = leb(wasm, p);
    const field = wasm.toString('utf8', p, p + len);
    p += len;
    const kind = wasm[p];
    const next = descEnd(kind, p + 1);
    if (!modules.has(module)) modules.set(module, shortName(modules.size));
    if (!renamed.has(field)) renamed.set(field, shortName(renamed.size));
    entries.push(name(modules.get(module)), name(renamed.get(field)), wasm.subarray(p, next));
    p = next;
  }
  if (p !== end) throw new Error('import section: unexpected length');
  const payload = Buffer.concat(entries);
  out.push(Buffer.from([2]), encodeLeb(payload.length), payload);
  at = end;
}

// The glue: the import object's keys are identifiers; the module is a string key.
for (const [long] of renamed) {
  if (!glue.includes(long)) throw new Error(`${gluePath}: import ${long} not found in the glue`);
}
glue = glue.replace(/[A-Za-z_$][\w$]*/g, (id) => renamed.get(id) ?? id);
for (const [long, short] of modules) {
  const quoted = JSON.stringify(long);
  if (!glue.includes(quoted)) throw new Error(`${gluePath}: import module ${quoted} not found in the glue`);
  glue = glue.split(quoted).join(JSON.stringify(short));
}
fs.writeFileSync(wasmPath, Buffer.concat(out));
fs.writeFileSync(gluePath, glue);
