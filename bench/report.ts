/** One run's measurement of one figure. */
export interface Sample {
  /** The figure's value in this run (calls/s, events/s, ms, MiB, ...). */
  value: number;
  /** Failed calls, refused batch items and abandoned calls of the run. */
  failures: number;
  /** A few descriptions of those failures. */
  failureSamples?: string[];
  /** CPU use in the window, % of one core: the measured server, the load generator, everything else on the machine. */
  cpu?: { server: number; generator: number; other: number };
  /** Extra figures of the run for the notes column (e.g. latency), by name. */
  extras?: Record<string, number>;
  /** The run's full result, for the JSON. */
  raw?: unknown;
}

/** One row of the table: a figure and everything said about it. */
export interface FigureRow {
  id: string;
  figure: string;
  unit: string;
  /** The median over runs. */
  value: number;
  runs: number[];
  ceilingId?: string;
  ceilingValue?: number;
  /** Value ÷ ceiling: the median of per-round ratios when paired, else the ratio of the medians. */
  ratio?: number;
  target?: string;
  pass?: boolean;
  failures: number;
  failureSamples: string[];
  notes: string;
  samples: Sample[];
}

/** The median of `values` (NaN for none). */
export function median(values: readonly number[]): number {
  const sorted = values.filter((value) => !Number.isNaN(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** A number as the table shows it in `unit`. */
export function formatValue(value: number, unit: string): string {
  if (Number.isNaN(value)) return "n/a";
  if (unit === "ms") return value < 10 ? value.toFixed(2) : value.toFixed(1);
  if (unit === "MiB") return value.toFixed(1);
  return Math.round(value).toLocaleString("en-US");
}

/** The rows as one aligned Markdown table. */
export function renderTable(rows: readonly FigureRow[]): string {
  const header = ["figure", "value", "unit", "ceiling", "ratio", "target", "pass", "notes"];
  const lines = rows.map((row) => [
    row.figure,
    formatValue(row.value, row.unit),
    row.unit,
    row.ceilingValue === undefined ? "" : formatValue(row.ceilingValue, row.unit),
    row.ratio === undefined ? "" : `${(row.ratio * 100).toFixed(0)}%`,
    row.target ?? "",
    row.pass === undefined ? (row.failures > 0 ? "ERRORS" : "") : row.pass ? "pass" : "FAIL",
    row.notes,
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  const numeric = new Set([1, 3, 4]);
  const render = (cells: string[]) =>
    `| ${cells.map((cell, column) => (numeric.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join(" | ")} |`;
  return [render(header), `|${widths.map((width, column) => (numeric.has(column) ? `${"-".repeat(width + 1)}:` : "-".repeat(width + 2))).join("|")}|`, ...lines.map(render)].join("\n");
}

/** The notes column: CPU split, extras, failures. */
export function notesOf(samples: readonly Sample[], extrasFormat: Record<string, string> = {}): string {
  const parts: string[] = [];
  for (const [name, unit] of Object.entries(extrasFormat)) {
    const value = median(samples.map((sample) => sample.extras?.[name] ?? Number.NaN));
    if (!Number.isNaN(value)) parts.push(unit === "ms" ? `${name} ${formatValue(value, unit)} ms` : `${formatValue(value, unit)} ${name}`);
  }
  const withCpu = samples.filter((sample) => sample.cpu !== undefined);
  if (withCpu.length > 0) {
    const cpu = (key: "server" | "generator" | "other") => Math.round(median(withCpu.map((sample) => sample.cpu![key])));
    parts.push(`cpu srv ${cpu("server")}% gen ${cpu("generator")}% other ${Math.max(0, cpu("other"))}%`);
  }
  const failures = samples.reduce((sum, sample) => sum + sample.failures, 0);
  if (failures > 0) parts.push(`${failures} FAILURES`);
  return parts.join("; ");
}
