// Runs after tsup (`npm run build`): the package's source maps and declarations must carry no
// build-machine path and cite no file the package lacks (issue 12).
//
// - ESM maps cite `../src/**` and `../adapters/**`, which the package ships (package.json
//   `files`), with their text embedded too: kept, and checked.
// - CommonJS maps are dropped. tsup builds the CommonJS chunks by converting the ESM ones, and
//   the map of that second step cites the intermediate file by its absolute build path
//   (`/home/ci/portcullis/dist/chunk-X.cjs`) and tsup's own shim file under node_modules. The
//   CommonJS build is not minified, so a stack trace into it still reads as written.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const dist = join(root, 'dist');
const problems = [];

for (const name of readdirSync(dist)) {
  const file = join(dist, name);
  if (name.endsWith('.cjs.map')) {
    rmSync(file);
  } else if (name.endsWith('.cjs')) {
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n'));
  } else if (name.endsWith('.js.map')) {
    const map = JSON.parse(readFileSync(file, 'utf8'));
    for (const source of map.sources) {
      const shipped = /^\.\.\/(src|adapters)\//.test(source) && existsSync(join(dist, source));
      if (!shipped) problems.push(`${name} cites ${source}`);
    }
  }
}
for (const name of readdirSync(dist)) {
  const text = readFileSync(join(dist, name), 'utf8');
  if (text.includes(root)) problems.push(`${name} holds the build path ${root}`);
  // A declaration may name a source file in a comment; it must be one the package ships.
  if (/\.d\.c?ts$/.test(name)) {
    for (const [cited] of text.matchAll(/\b(?:src|adapters)\/[\w/.-]+\.ts\b/g)) {
      if (!existsSync(join(root, cited))) problems.push(`${name} cites ${cited}`);
    }
    if (/DESIGN\.md/.test(text)) problems.push(`${name} cites DESIGN.md, which the package lacks`);
  }
}
if (problems.length > 0) {
  console.error(`finish-dist: ${problems.join('\n  ')}`);
  process.exit(1);
}
