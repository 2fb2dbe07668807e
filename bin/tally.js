#!/usr/bin/env node
// The `tally` command. The sources are TypeScript run through tsx, so there is
// no build step between a clone and a running server.
import { register } from "tsx/esm/api";

register();
const { runCli } = await import("../src/main.ts");
await runCli(process.argv);
