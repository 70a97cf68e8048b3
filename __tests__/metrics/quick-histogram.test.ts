import { Histogram, Registry } from 'prom-client';
import { QuickHistogram } from '../../src/metrics/quick';
import { promtoolCheck, samplesOf } from '../helpers/metrics';

describe('QuickHistogram', () => {
  it("exports what prom-client's own Histogram exports for the same observations, bounds included", async () => {
    const buckets = [0.001, 0.01, 0.1, 1];
    const registry = new Registry();
    const quick = new QuickHistogram({ name: 'quick_seconds', help: 'h', label: 'op', buckets, registry });
    const reference = new Histogram({
      name: 'reference_seconds',
      help: 'h',
      labelNames: ['op'],
      buckets,
      registers: [registry],
    });
    const observations: Array<[string, number]> = [
      ['read', 0.0004],
      ['read', 0.001], // on a bound: counted in its bucket (le is "less or equal")
      ['read', 0.05],
      ['commit', 0.2],
      ['commit', 7],
      ['read', 0.01],
    ];
    for (const [op, seconds] of observations) {
      quick.record(op, seconds);
      reference.observe({ op }, seconds);
    }
    const text = await registry.metrics();
    const of = (name: string): string[] =>
      samplesOf(text)
        .filter((sample) => sample.name.startsWith(name))
        .map(({ name: n, labels, value }) => `${n.slice(name.length)} ${labels.op} ${labels.le ?? ''} ${value}`)
        .sort();
    expect(of('quick_seconds')).toEqual(of('reference_seconds'));
    expect(of('quick_seconds')).toContain('_bucket read 0.001 2');
    expect(of('quick_seconds')).toContain('_bucket commit +Inf 2');
    expect(await promtoolCheck(text)).toEqual({ code: 0, output: '' });
    const json = await registry.getMetricsAsJSON();
    expect(json.find((metric) => metric.name === 'quick_seconds')?.type).toBe('histogram');
  });
});
