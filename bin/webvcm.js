#!/usr/bin/env node
// CLI entry: runs the compiled CLI in dist/ (`npm run build`); no TypeScript loader at run time.
let mod;
try {
  mod = await import('../dist/cli/main.js');
} catch (e) {
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('dist/cli/main.js')) {
    process.stderr.write('webvcm: dist/ is missing; in a source checkout run `npm run build` first\n');
    process.exit(1);
  }
  throw e;
}
process.exitCode = await mod.main(process.argv);
