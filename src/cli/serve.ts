import type { Command } from "commander";
import { pino } from "pino";
import { booleanEnvironment, databaseUrlFallback, type ServeConfig, serveOptions } from "../config.js";
import { startTally } from "../main.js";

/** `tally serve`: the API on one port until SIGTERM or SIGINT, then a graceful shutdown. */
export function registerServeCommand(program: Command): void {
  const serve = program.command("serve").description("serve the Tally API (gRPC, gRPC-Web and Connect on one port)");
  for (const option of serveOptions()) serve.addOption(option);
  serve.hook("preAction", databaseUrlFallback);
  serve.hook("preAction", booleanEnvironment);
  serve.action(async (config: ServeConfig) => {
    // Asynchronous, coalesced writes: a synchronous write per call line costs
    // more than the rest of a call. Flushed before the process exits.
    // Credentials never reach the log: handlers log no headers, and these paths are redacted if anything ever does.
    const logger = pino(
      { level: config.logLevel, redact: { paths: ["authorization", "*.authorization", "*.headers.authorization", "bootstrapKey", "*.bootstrapKey"], censor: "[redacted]" } },
      pino.destination({ sync: false }),
    );
    const tally = await startTally(config, logger);
    const stop = (signal: string) => {
      logger.info({ signal }, "shutting down");
      tally.stop().then(
        () => {
          logger.info("stopped");
          logger.flush(() => process.exit(0));
        },
        (error: unknown) => {
          logger.error({ err: error }, "shutdown failed");
          logger.flush(() => process.exit(1));
        },
      );
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
}
