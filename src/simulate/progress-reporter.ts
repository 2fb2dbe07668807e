import { SingleBar } from "cli-progress";

/** What the progress display shows, read from the run whenever it redraws. */
export interface ProgressSnapshot {
  sent: number;
  settled: number;
  acknowledged: number;
  refused: number;
  failed: number;
}

/** Options of createProgressReporter. */
export interface ProgressReporterOptions {
  /** Where progress goes; a bar when it is a terminal, lines otherwise. */
  stream: NodeJS.WritableStream & { isTTY?: boolean };
  /** Sends planned (the bar's 100%). */
  total: number;
  /** Read at every redraw. */
  snapshot: () => ProgressSnapshot;
  /** Without a terminal, ms between progress lines. */
  lineIntervalMs: number;
}

/** Shows a run's progress until stopped. */
export interface ProgressReporter {
  stop(): void;
}

/** How often the bar redraws, in ms. */
const BAR_REDRAW_MS = 200;

/**
 * A cli-progress bar on a terminal; elsewhere (CI logs, files) a line every
 * few seconds instead, since a bar's carriage returns would fill a log with
 * noise.
 */
export function createProgressReporter({ stream, total, snapshot, lineIntervalMs }: ProgressReporterOptions): ProgressReporter {
  const startedAt = performance.now();
  const rate = (count: number) => Math.round(count / Math.max(0.001, (performance.now() - startedAt) / 1000));
  if (stream.isTTY === true) {
    const bar = new SingleBar({
      stream,
      format: "simulate [{bar}] {percentage}% | {value}/{total} answered | {acknowledged} acked, {refused} refused, {failed} failed | {rate} sent/s | {duration_formatted}",
      hideCursor: true,
      clearOnComplete: false,
      fps: 1000 / BAR_REDRAW_MS,
    });
    const payload = (current: ProgressSnapshot) => ({ ...current, rate: rate(current.sent) });
    bar.start(total, 0, payload(snapshot()));
    const timer = setInterval(() => {
      const current = snapshot();
      bar.update(current.settled, payload(current));
    }, BAR_REDRAW_MS);
    timer.unref();
    return {
      stop() {
        clearInterval(timer);
        const current = snapshot();
        bar.update(current.settled, payload(current));
        bar.stop();
      },
    };
  }
  const timer = setInterval(() => {
    const current = snapshot();
    stream.write(
      `simulate: ${current.settled}/${total} answered, ${current.acknowledged} acknowledged, ${current.refused} refused, ${current.failed} failed, ${rate(current.sent)} events/s\n`,
    );
  }, lineIntervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
