import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * The directory holding Tally's package.json. Found by walking up from this
 * module because it runs from two depths: src/ (the TypeScript, through tsx,
 * in tests and scripts) and dist/src/ (the compiled build `tally` runs).
 */
export const PACKAGE_ROOT = packageRoot(import.meta.dirname);

/** The version in package.json, which `tally --version` prints. */
export const PACKAGE_VERSION = (JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }).version;

function packageRoot(from: string): string {
  for (let directory = from; ; directory = dirname(directory)) {
    if (existsSync(join(directory, "package.json"))) return directory;
    if (dirname(directory) === directory) throw new Error(`no package.json above ${from}`);
  }
}
