// node build.mjs OUT.wasm — uses the example's componentize-js installation.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, resolve } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../../..');
const entry = resolve(repo, 'examples/plugins/js-responder/node_modules/@bytecodealliance/componentize-js/src/componentize.js');
const { componentize } = await import(pathToFileURL(entry).href);
const { component } = await componentize({
  sourcePath: resolve(here, 'probe.js'),
  witPath: resolve(repo, 'wit/v0.1.0'),
  worldName: 'classifier-plugin',
  disableFeatures: ['http', 'fetch-event'],
});
await writeFile(process.argv[2], component);
