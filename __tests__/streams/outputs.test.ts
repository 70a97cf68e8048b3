// What a backed-up client gets: the latest progress only, but every output and custom event, in order.
import { EventEmitter } from 'node:events';
import { encodeEvent } from '../../src/sse/encode';
import { EventStream } from '../../src/sse/stream';
import { StreamOutput } from '../../src/streams/outputs';
import type { TaskEvent } from '../../src';
import { parseSse } from '../helpers/sse';

/** A response whose client reads nothing until `drain()`: every write says the buffer is full. */
class StalledResponse extends EventEmitter {
  readonly written: string[] = [];
  writableLength = 0;
  write(frame: string | Buffer): boolean {
    this.written.push(frame.toString());
    this.writableLength += frame.length;
    return false;
  }
  drain(): void {
    this.writableLength = 0;
    this.emit('drain');
  }
  end(): void {}
  destroy(): void {}
}

describe('a single-task stream to a backed-up client', () => {
  it('coalesces each run of progress to its latest, and keeps every output and custom event, in order', () => {
    const response = new StalledResponse();
    const stream = new EventStream(response, { bufferBytes: 1024, slowClientMs: 60_000 });
    const output = new StreamOutput(stream);
    let id = 0;
    const live = (event: string, data: object): void => {
      const stored: TaskEvent = { id: String(++id), event, data: JSON.stringify(data) };
      output.send(stored, Buffer.from(encodeEvent(stored)));
    };
    live('progress', { percent: 0, pad: 'x'.repeat(2000) }); // backs the client up
    const before = response.written.length;
    for (let i = 1; i <= 20; i++) live('progress', { percent: i });
    for (let i = 0; i < 10; i++) live('output', { offset: i, text: String(i) });
    for (let i = 21; i <= 40; i++) live('progress', { percent: i });
    live('row.rejected', { row: 7 });
    for (let i = 41; i <= 60; i++) live('progress', { percent: i });
    response.drain();
    stream.close();
    const events = parseSse(response.written.slice(before).join('')).events;
    const summary = events.map((e) => {
      const data = JSON.parse(e.data) as { percent?: number; text?: string; row?: number };
      return `${e.event}:${data.percent ?? data.text ?? data.row}`;
    });
    expect(summary).toEqual([
      'progress:20',
      ...Array.from({ length: 10 }, (_, i) => `output:${i}`),
      'progress:40',
      'row.rejected:7',
      'progress:60',
    ]);
  });
});
