// `node --import ./test/helpers/record-modules.mjs …` appends every module the process loads to the
// file named by MASKWATCH_RECORD_MODULES, one URL or path a line: ESM imports through a resolve hook
// (which also sees CommonJS packages imported from ESM), CommonJS require()s from require.cache at exit.
import fs from 'node:fs';
import { createRequire, register } from 'node:module';

const file = process.env.MASKWATCH_RECORD_MODULES;
if (file) {
  const hooks = `
    import fs from 'node:fs';
    export async function resolve(specifier, context, next) {
      const result = await next(specifier, context);
      fs.appendFileSync(${JSON.stringify(file)}, result.url + '\\n');
      return result;
    }`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`);
  const require = createRequire(import.meta.url);
  process.on('exit', () => fs.appendFileSync(file, Object.keys(require.cache).map((p) => p + '\n').join('')));
}
