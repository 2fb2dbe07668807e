import { Command } from "commander";
import { PACKAGE_VERSION } from "../package-info.js";
import { registerKeysCommand } from "./keys.js";
import { registerServeCommand } from "./serve.js";
import { registerSimulateCommand } from "./simulate.js";

/** The `tally` command line: one subcommand per file in this folder. */
export async function runCli(argv: string[]): Promise<void> {
  const program = new Command("tally")
    .description("Tally: usage metering and billing")
    .version(PACKAGE_VERSION, "-V, --version", "print the version of Tally")
    .showHelpAfterError();
  registerServeCommand(program);
  registerSimulateCommand(program);
  registerKeysCommand(program);
  await program.parseAsync(argv);
}
