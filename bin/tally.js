#!/usr/bin/env -S node --max-semi-space-size=64
// The `tally` command. The sources are TypeScript run through tsx, so there is
// no build step between a clone and a running server. The young generation
// is 64 MiB (Node's default is 16): a call's garbage then dies young instead
// of being copied and promoted while hundreds of calls are in flight
// (README, "Configuration").
import { register } from "tsx/esm/api";

register();
const { runCli } = await import("../src/cli/program.ts");
await runCli(process.argv);
