// Summaries of repeated measurements.

/** { median, min, max, n } of the finite values; NaN fields when there are none. */
export function summarize(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], n: sorted.length };
}

/** Microseconds of CPU between two process.cpuUsage() readings. */
export function cpuDelta(before, after) {
  const user = after.user - before.user;
  const system = after.system - before.system;
  return { user, system, total: user + system };
}

export const MB = 1024 * 1024;
export const KB = 1024;
