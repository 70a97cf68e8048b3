import { Counter, Gauge, type Registry } from 'prom-client';
import { STREAM_KINDS, type StreamStats } from '../streams/stats';
import { PREFIX } from './names';

/**
 * The stream metrics, read from the middleware's counters (`tasks.stats`) when scraped: nothing is done per event
 * beyond the additions the streams make anyway.
 */
export function registerStreamMetrics(registry: Registry, stats: Readonly<StreamStats>): void {
  const registers = [registry];
  new Gauge({
    name: `${PREFIX}open_streams`,
    help: 'Event streams open now in this process, by kind (task, set: ?ids=, owner: the owner feed)',
    labelNames: ['kind'],
    registers,
    collect() {
      for (const kind of STREAM_KINDS) this.set({ kind }, stats.open[kind]);
    },
  });
  const counters: Array<[name: string, help: string, label: string, read: () => Record<string, number>]> = [
    ['stream_connections_total', 'Event streams opened (answered 200), by kind', 'kind', () => stats.connections],
    [
      'stream_refusals_total',
      'Event streams refused with 503, by reason (max_connections, max_per_task, shutting_down)',
      'reason',
      () => stats.refusals,
    ],
    [
      'resumes_total',
      'Stream requests with a Last-Event-ID, by outcome (replayed; reset: a fresh start; ended: the 204)',
      'outcome',
      () => stats.resumes,
    ],
    [
      'long_polls_total',
      'Long-polls answered, by outcome (events; timeout: no event; fresh: a fresh start)',
      'outcome',
      () => stats.longPolls,
    ],
    [
      'slow_clients_total',
      'Slow clients, by action (coalesced: backed up and had frames coalesced; disconnected: cut off after slowClientMs)',
      'action',
      () => ({ coalesced: stats.coalesced, disconnected: stats.disconnected }),
    ],
  ];
  for (const [name, help, label, read] of counters) mirror(registry, name, help, [label], read);
  mirror(
    registry,
    'frames_written_total',
    'Frames (events, heartbeats, retry lines) written to event streams',
    [],
    () => ({
      '': stats.frames,
    }),
  );
  mirror(registry, 'bytes_written_total', 'Bytes of frames written to event streams', [], () => ({ '': stats.bytes }));
}

/** A counter whose values are the middleware's counts, read at each scrape (one label, or none: the key ''). */
function mirror(
  registry: Registry,
  name: string,
  help: string,
  labelNames: [string] | [],
  read: () => Record<string, number>,
): void {
  const [label] = labelNames;
  new Counter({
    name: `${PREFIX}${name}`,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [value, count] of Object.entries(read())) {
        if (label === undefined) this.inc(count);
        else this.inc({ [label]: value }, count);
      }
    },
  });
}
