// `node --import ./test/helpers/ort-without-binding.mjs …` makes `import('onnxruntime-node')` load the real
// onnxruntime-node JavaScript from a copy without its bin/ folder, so its native binding cannot load, as on 32-bit
// Raspberry Pi OS (armv7), for which onnxruntime-node ships no binary. The copy goes into the folder named by
// MASKWATCH_TEST_ORT_NODE_COPY (made if missing); its onnxruntime-common is the installed one.
import fs from 'node:fs';
import { register } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const copy = process.env.MASKWATCH_TEST_ORT_NODE_COPY;
if (copy) {
  const modules = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../node_modules');
  const pkg = path.join(copy, 'node_modules/onnxruntime-node');
  if (!fs.existsSync(path.join(pkg, 'dist/index.js'))) {
    fs.mkdirSync(pkg, { recursive: true });
    fs.copyFileSync(path.join(modules, 'onnxruntime-node/package.json'), path.join(pkg, 'package.json'));
    fs.cpSync(path.join(modules, 'onnxruntime-node/dist'), path.join(pkg, 'dist'), { recursive: true });
    fs.symlinkSync(path.join(modules, 'onnxruntime-common'), path.join(copy, 'node_modules/onnxruntime-common'));
  }
  const target = pathToFileURL(path.join(pkg, 'dist/index.js')).href;
  const hooks = `
    export async function resolve(specifier, context, next) {
      if (specifier === 'onnxruntime-node') return { url: ${JSON.stringify(target)}, format: 'commonjs', shortCircuit: true };
      return next(specifier, context);
    }`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`);
}
