// Build the component: node build.mjs [OUT.wasm]
// Calls the componentize-js API directly (jco 1.35's CLI cannot read a WIT
// folder: its bundled wasm-tools gets no filesystem access).
import { componentize } from '@bytecodealliance/componentize-js';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ?? resolve(here, 'order-desk.wasm');
const { component } = await componentize({
  sourcePath: resolve(here, 'responder.js'),
  witPath: resolve(here, '../../../wit/v0.1.0'),
  worldName: 'responder-plugin',
  // Least WASI: no stdio, random, clocks or HTTP imports at all.
  disableFeatures: ['stdio', 'random', 'clocks', 'http', 'fetch-event'],
});
await writeFile(out, component);
console.log(`wrote ${out} (${component.length} bytes)`);
