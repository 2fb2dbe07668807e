import { Command, InvalidArgumentError } from "commander";
import { StartupError } from "../startup-error.js";
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
  try {
    await program.parseAsync(argv);
  } catch (error) {
    process.stderr.write(`tally: ${failureLine(error)}\n`);
    process.exitCode = 1;
  }
}

/**
 * What stopped a command, in one line: a StartupError or a refused setting
 * says its cause and what to do; anything else is unexpected, and its stack
 * is shown only at TALLY_LOG_LEVEL=debug or trace.
 */
function failureLine(error: unknown): string {
  if (error instanceof StartupError || error instanceof InvalidArgumentError) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  if (["debug", "trace"].includes(process.env.TALLY_LOG_LEVEL ?? "") && error instanceof Error) return `${message}\n${error.stack ?? ""}`;
  return `${message} (unexpected; TALLY_LOG_LEVEL=debug shows where it came from)`;
}
