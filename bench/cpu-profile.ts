import { readFileSync } from "node:fs";

/** Where a server's CPU time went, from one `node --cpu-prof` file. */
export interface CpuProfileSummary {
  /** The profile's length, in ms. */
  totalMs: number;
  /** Self time by where the code lives: a package, Tally's own src/, node internals, GC, idle. */
  byOrigin: { origin: string; ms: number; percent: number }[];
  /** The functions with the most self time. */
  topFunctions: { name: string; origin: string; ms: number; percent: number }[];
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Names the place a function lives: "better-sqlite3", "src/store", "node:internal/http2", "(garbage collector)", ... */
function originOf(frame: ProfileNode["callFrame"]): string {
  const { url, functionName } = frame;
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  const inPackage = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (inPackage !== null) return inPackage[1]!;
  const inRepo = /\/(src|gen|bin)\/([^/]+)/.exec(url);
  if (inRepo !== null) return inRepo[1] === "src" ? `src/${inRepo[2]!.replace(/\.[jt]s$/, "")}` : inRepo[1]!;
  if (url.startsWith("node:")) return url.split("/").slice(0, 2).join("/").replace(/_.*$/, "");
  return url;
}

/** Self time per origin and per function, with the idle time kept apart so percentages are of the whole profile. */
export function summariseCpuProfile(path: string, top = 15): CpuProfileSummary {
  const profile = JSON.parse(readFileSync(path, "utf8")) as Profile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMicros = new Map<number, number>();
  profile.samples.forEach((id, index) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
  const totalMicros = profile.endTime - profile.startTime;
  const byOrigin = new Map<string, number>();
  const byFunction = new Map<string, { name: string; origin: string; micros: number }>();
  for (const [id, micros] of selfMicros) {
    const frame = nodes.get(id)!.callFrame;
    const origin = originOf(frame);
    byOrigin.set(origin, (byOrigin.get(origin) ?? 0) + micros);
    // Line numbers are of the compiled (dist/) or tsx-transformed code, so a function is named by its name and origin only.
    const name = frame.functionName || "(anonymous)";
    const key = `${origin} ${name}`;
    const entry = byFunction.get(key) ?? { name, origin, micros: 0 };
    entry.micros += micros;
    byFunction.set(key, entry);
  }
  const percent = (micros: number) => Math.round((micros / totalMicros) * 1000) / 10;
  return {
    totalMs: totalMicros / 1000,
    byOrigin: [...byOrigin]
      .sort((a, b) => b[1] - a[1])
      .map(([origin, micros]) => ({ origin, ms: Math.round(micros / 1000), percent: percent(micros) })),
    topFunctions: [...byFunction.values()]
      .sort((a, b) => b.micros - a.micros)
      .slice(0, top)
      .map((entry) => ({ name: entry.name, origin: entry.origin, ms: Math.round(entry.micros / 1000), percent: percent(entry.micros) })),
  };
}
