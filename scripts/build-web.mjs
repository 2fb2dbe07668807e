// Builds the dashboard (src/web) into dist/web with esbuild: one bundled,
// minified script (its source map beside it), the stylesheet and the page.
// npm start and npm test run it first, so there is no manual build step.
import { copyFileSync, mkdirSync } from "node:fs";
import { build } from "esbuild";

const out = "dist/web";
mkdirSync(out, { recursive: true });
await build({
  entryPoints: ["src/web/main.ts"],
  outfile: `${out}/app.js`,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022"],
  minify: true,
  sourcemap: true,
  logLevel: "warning",
});
copyFileSync("src/web/index.html", `${out}/index.html`);
copyFileSync("src/web/app.css", `${out}/app.css`);
