// Entry of the SQLite writer thread. The sources are TypeScript run through
// tsx, and a worker thread does not inherit the main thread's loader hooks on
// Node 20, so the thread registers tsx itself before loading its module.
import { register } from "tsx/esm/api";

register();
await import("./writer-thread-main.ts");
