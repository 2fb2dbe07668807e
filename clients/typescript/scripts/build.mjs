// Builds dist/ of @tally/client (`npm pack` runs it as prepack): the package's
// sources and the generated code they import (gen/ts/billing/v1 and
// gen/ts/google/rpc of the repository) compiled by tsc to JavaScript with
// .d.ts beside each file. The generated code is compiled from the
// repository's only copy rather than copied in, so dist/ keeps the
// repository's layout (dist/clients/typescript/src, dist/gen/ts) and every
// relative import stays valid. TypeScript comes from the repository's dev
// dependencies.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const root = join(import.meta.dirname, "..");
process.chdir(root);

let tsc;
try {
  tsc = join(dirname(require.resolve("typescript/package.json")), require("typescript/package.json").bin.tsc);
} catch {
  console.error("@tally/client build: typescript is not installed; run `npm ci` at the repository's root first");
  process.exit(1);
}
rmSync("dist", { recursive: true, force: true });
execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { stdio: "inherit" });
