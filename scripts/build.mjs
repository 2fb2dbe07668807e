// Builds dist/, what `npm start` and the `tally` bin run:
//   dist/src, dist/gen  the server, compiled by tsc (tsconfig.build.json), and the
//                       descriptor set reflection serves (gen/descriptors), with
//                       dist/clients: the client package's sources the simulator uses
//   dist/web            the dashboard (src/web), bundled and minified by esbuild
// `npm ci` (prepare), `npm start` (prestart) and `npm test` (pretest) run it,
// so a clone is built by its install and an edit is never served stale.
// Compiled output of deleted sources is removed first. Without the compilers
// (an install with --omit=dev) an existing dist/ is used as it is.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const root = join(import.meta.dirname, "..");
process.chdir(root);

let tsc;
let esbuild;
try {
  tsc = join(dirname(require.resolve("typescript/package.json")), require("typescript/package.json").bin.tsc);
  esbuild = await import("esbuild");
} catch {
  if (existsSync("dist/src/cli/program.js") && existsSync("dist/web/index.html")) {
    console.log("tally build: typescript and esbuild (dev dependencies) are not installed; using the dist/ already built");
    process.exit(0);
  }
  console.error("tally build: dist/ is not built and typescript and esbuild (dev dependencies) are not installed; run `npm ci` with dev dependencies, then `npm run build`");
  process.exit(1);
}

rmSync("dist/src", { recursive: true, force: true });
rmSync("dist/gen", { recursive: true, force: true });
rmSync("dist/clients", { recursive: true, force: true });
execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { stdio: "inherit" });
// The descriptor set reflection serves, beside the compiled gen/ts as beside gen/ts.
mkdirSync("dist/gen/descriptors", { recursive: true });
copyFileSync("gen/descriptors/billing.binpb", "dist/gen/descriptors/billing.binpb");

const web = "dist/web";
mkdirSync(web, { recursive: true });
await esbuild.build({
  entryPoints: ["src/web/main.ts"],
  outfile: `${web}/app.js`,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022"],
  minify: true,
  sourcemap: true,
  logLevel: "warning",
});
copyFileSync("src/web/index.html", `${web}/index.html`);
copyFileSync("src/web/app.css", `${web}/app.css`);
