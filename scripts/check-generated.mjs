// Fails when regenerating from proto/ would change what is committed:
// generated code is never edited by hand and never left stale. Generates
// (scripts/generate.mjs) into a temporary directory so the working tree is not
// touched. Run through npm, so node_modules/.bin (buf, protoc-gen-es) is on PATH.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { generate, GENERATED_ROOTS, HAND_WRITTEN } from "./generate.mjs";

process.chdir(join(import.meta.dirname, ".."));
const scratch = mkdtempSync(join(tmpdir(), "tally-gen-"));
try {
  generate(scratch);
  const fresh = listFiles(scratch);
  const committed = listFiles(".", (path) => !HAND_WRITTEN.has(path));
  const problems = [];
  for (const file of new Set([...fresh.keys(), ...committed.keys()])) {
    if (!committed.has(file)) problems.push(`missing: ${file}`);
    else if (!fresh.has(file)) problems.push(`not generated from proto/ any more: ${file}`);
    else if (!fresh.get(file).equals(committed.get(file))) problems.push(`stale: ${file}`);
  }
  if (problems.length > 0) {
    console.error(`generated code does not match proto/; run \`npm run generate\` and commit the result:\n  ${problems.join("\n  ")}`);
    process.exitCode = 1;
  } else {
    console.log(`generated code is up to date (${committed.size} files in ${GENERATED_ROOTS.join(", ")})`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

/** The files under GENERATED_ROOTS of `base`, by path relative to it. */
function listFiles(base, keep = () => true) {
  const files = new Map();
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const name = relative(base, path);
      if (entry.isDirectory()) {
        if (entry.name !== "__pycache__") walk(path);
      } else if (keep(name)) files.set(name, readFileSync(path));
    }
  };
  for (const root of GENERATED_ROOTS) if (existsSync(join(base, root))) walk(join(base, root));
  return files;
}
