#!/usr/bin/env -S node --max-semi-space-size=64
// The `tally` command: runs the compiled build in dist/ (`npm run build`;
// `npm ci`, `npm start` and `npm test` build it), so it needs neither tsx
// nor TypeScript. The young generation is 64 MiB (Node's default is 16): a
// call's garbage then dies young instead of being copied and promoted while
// hundreds of calls are in flight (README, "Configuration").
import { existsSync } from "node:fs";

const program = new URL("../dist/src/cli/program.js", import.meta.url);
if (!existsSync(program)) {
  process.stderr.write("tally: not built (dist/src/cli/program.js is missing); run `npm run build` in the Tally directory\n");
  process.exit(1);
}
const { runCli } = await import(program.href);
await runCli(process.argv);
