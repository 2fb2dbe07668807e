// Entry of the SQLite writer thread when Tally runs from its TypeScript
// sources (tests and scripts, through tsx): a worker thread does not inherit
// the main thread's loader hooks on Node 20, so the thread registers tsx
// itself before loading its module. The compiled build (dist/) starts
// writer-thread-main.js directly and never loads this file or tsx.
import { register } from "tsx/esm/api";

register();
await import("./writer-thread-main.ts");
