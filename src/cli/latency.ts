// Latency figures for `fcgi bench`: exact percentiles from every sample (sorted once), and a histogram
// on log-spaced buckets (latencies spread over orders of magnitude) drawn as ASCII bars.

export interface LatencySummary {
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface Bucket {
  /** Lower and upper bound in ms (a sample equal to the upper bound falls in the next bucket, but the last). */
  fromMs: number;
  toMs: number;
  count: number;
}

/** Sorts `samples` in place and summarises them (all zero when empty). */
export function summarize(samples: Float64Array): LatencySummary {
  const n = samples.length;
  if (n === 0) return { min: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  samples.sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += samples[i]!;
  // nearest rank: the smallest sample with at least p% of the samples at or below it
  const at = (p: number): number => samples[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!;
  return { min: samples[0]!, mean: sum / n, p50: at(50), p90: at(90), p99: at(99), max: samples[n - 1]! };
}

/** `sorted` samples in at most `buckets` log-spaced buckets between min and max; the counts add up to n. */
export function histogram(sorted: Float64Array, buckets = 12): Bucket[] {
  const n = sorted.length;
  if (n === 0) return [];
  const lo = Math.max(sorted[0]!, 0.001);
  const hi = Math.max(sorted[n - 1]!, lo * 1.0001);
  const ratio = Math.pow(hi / lo, 1 / buckets);
  const out: Bucket[] = [];
  let i = 0;
  for (let b = 0; b < buckets; b++) {
    const from = b === 0 ? 0 : lo * Math.pow(ratio, b);
    const to = b === buckets - 1 ? hi : lo * Math.pow(ratio, b + 1);
    const start = i;
    while (i < n && (b === buckets - 1 || sorted[i]! < to)) i++;
    out.push({ fromMs: b === 0 ? sorted[0]! : from, toMs: to, count: i - start });
  }
  return out;
}

/** ms with a precision that suits its size. */
export function formatMs(ms: number): string {
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

/** One line per bucket: range, a bar scaled to the largest bucket, count and share. */
export function drawHistogram(buckets: Bucket[], width = 40): string[] {
  const total = buckets.reduce((s, b) => s + b.count, 0);
  const most = Math.max(1, ...buckets.map((b) => b.count));
  return buckets.map((b) => {
    const bar = '#'.repeat(Math.round((b.count / most) * width)) || (b.count > 0 ? '.' : '');
    const range = `${formatMs(b.fromMs).padStart(9)} - ${formatMs(b.toMs).padEnd(9)}`;
    return `${range} |${bar.padEnd(width)}| ${String(b.count).padStart(8)} ${((100 * b.count) / total).toFixed(1).padStart(5)}%`;
  });
}
