// Fails when regenerating from proto/ would change gen/: generated code is
// never edited by hand and never left stale. Generates (both templates) into a
// temporary directory so the working tree is not touched. Run through npm, so
// node_modules/.bin (buf, protoc-gen-es) is on PATH.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

// gen/go is a Go module: its go.mod and go.sum are written by `go mod tidy`, not by buf.
const HAND_WRITTEN = new Set(["go/go.mod", "go/go.sum"]);

const scratch = mkdtempSync(join(tmpdir(), "tally-gen-"));
try {
  for (const template of ["buf.gen.yaml", "buf.gen.standard.yaml"]) {
    execFileSync("buf", ["generate", "--template", template, "--output", scratch], { stdio: "inherit" });
  }
  const fresh = listFiles(join(scratch, "gen"));
  const committed = listFiles("gen", (path) => !HAND_WRITTEN.has(path));
  const problems = [];
  for (const file of new Set([...fresh.keys(), ...committed.keys()])) {
    if (!committed.has(file)) problems.push(`missing from gen/: ${file}`);
    else if (!fresh.has(file)) problems.push(`not generated from proto/ any more: gen/${file}`);
    else if (!fresh.get(file).equals(committed.get(file))) problems.push(`stale: gen/${file}`);
  }
  if (problems.length > 0) {
    console.error(`gen/ does not match proto/; run \`npm run generate\` and commit the result:\n  ${problems.join("\n  ")}`);
    process.exitCode = 1;
  } else {
    console.log(`gen/ is up to date (${committed.size} files)`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

function listFiles(root, keep = () => true) {
  const files = new Map();
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (keep(relative(root, path))) files.set(relative(root, path), readFileSync(path));
    }
  };
  walk(root);
  return files;
}
