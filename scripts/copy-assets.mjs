// tsc compiles TypeScript only; the Lua scripts and other runtime assets under src/ must sit next to
// the compiled modules that load them, so the built package runs without the sources.
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ASSET = /\.(lua|json|html|css|js|svg)$/;

function copyAssets(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) copyAssets(path);
    else if (ASSET.test(name) && !name.endsWith('.ts')) cpSync(path, join('dist', relative('.', path)));
  }
}

copyAssets('src');
