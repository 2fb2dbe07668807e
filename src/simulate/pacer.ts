import type { SimulationScenario } from "./simulation-options.js";

/** Options of createPacer. */
export interface PacerOptions {
  /** Events per second on average; undefined sends as fast as the workers can. */
  rate: number | undefined;
  scenario: SimulationScenario;
  /** Length of a burst, in ms ("burst" scenario). */
  burstMs: number;
  /** Length of the pause after each burst, in ms ("burst" scenario). */
  pauseMs: number;
}

/** When each send may go, in ms since the load started. */
export interface Pacer {
  /** The earliest time, at or after `elapsedMs`, at which send `index` may go. */
  dueMs(index: number, elapsedMs: number): number;
}

/**
 * Spreads sends over time. Steady with a rate: send i is due at i/rate.
 * Burst: sends go only during the first `burstMs` of every
 * `burstMs + pauseMs` cycle; with a rate, faster within the bursts so that
 * the average stays the rate asked for.
 */
export function createPacer({ rate, scenario, burstMs, pauseMs }: PacerOptions): Pacer {
  const cycleMs = burstMs + pauseMs;
  const bursting = scenario === "burst" && pauseMs > 0;
  return {
    dueMs(index, elapsedMs) {
      if (rate === undefined) {
        if (!bursting) return elapsedMs;
        const intoCycle = elapsedMs % cycleMs;
        return intoCycle < burstMs ? elapsedMs : elapsedMs - intoCycle + cycleMs;
      }
      if (!bursting) return Math.max(elapsedMs, (index * 1000) / rate);
      const activeMs = (index * 1000 * burstMs) / (rate * cycleMs);
      const cycles = Math.floor(activeMs / burstMs);
      return Math.max(elapsedMs, cycles * cycleMs + (activeMs - cycles * burstMs));
    },
  };
}
