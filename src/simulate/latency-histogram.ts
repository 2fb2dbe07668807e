import { build } from "hdr-histogram-js";

/** Latency percentiles of a run's calls, in milliseconds. */
export interface LatencySummary {
  calls: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/** Records call latencies and reports their percentiles. */
export interface LatencyHistogram {
  record(latencyMs: number): void;
  summary(): LatencySummary;
}

/**
 * An HDR histogram of microseconds with three significant digits: exact
 * enough for p999 without keeping every sample, whatever the run's length.
 */
export function createLatencyHistogram(): LatencyHistogram {
  const histogram = build({ lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3, autoResize: true });
  const toMs = (micros: number) => Math.round(micros) / 1000;
  return {
    record(latencyMs) {
      histogram.recordValue(Math.max(1, Math.round(latencyMs * 1000)));
    },
    summary() {
      const calls = histogram.totalCount;
      if (calls === 0) return { calls, p50Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
      // A percentile is reported as the top of its bucket; never above the largest value seen.
      const atPercentile = (percentile: number) => toMs(Math.min(histogram.getValueAtPercentile(percentile), histogram.maxValue));
      return { calls, p50Ms: atPercentile(50), p99Ms: atPercentile(99), p999Ms: atPercentile(99.9), maxMs: toMs(histogram.maxValue) };
    },
  };
}
