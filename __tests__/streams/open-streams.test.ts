// The registry of open streams: one heartbeat timer for all of them (with fake timers: exact, and fast), the
// connection limits, and shutdown.
import { EventEmitter } from 'node:events';
import { TaskError } from '../../src';
import { EventStream } from '../../src/sse/stream';
import { HEARTBEAT_FRAME, OpenStreams } from '../../src/streams/open-streams';

/** A response that takes every write: all a stream needs of one, without a socket. */
class Response extends EventEmitter {
  readonly frames: string[] = [];
  writableLength = 0;
  ended = false;
  write(frame: string | Buffer): boolean {
    this.frames.push(frame.toString());
    return true;
  }
  end(): void {
    this.ended = true;
    this.emit('close');
  }
  destroy(): void {
    this.emit('close');
  }
}

const limits = { heartbeatMs: 1000, maxConnections: 3, maxConnectionsPerTask: 2, retryAfterSeconds: 4 };
const HEARTBEAT = HEARTBEAT_FRAME.toString();

describe('OpenStreams', () => {
  let streams: OpenStreams;
  const open = (taskIds: string[]): { stream: EventStream; response: Response } => {
    const response = new Response();
    const stream = streams.add(
      'task',
      taskIds,
      () => new EventStream(response, { bufferBytes: 65_536, slowClientMs: 1000 }),
    );
    return { stream, response };
  };

  beforeEach(() => {
    jest.useFakeTimers();
    streams = new OpenStreams(limits);
  });
  afterEach(() => {
    streams.closeAll();
    jest.useRealTimers();
  });

  it('heartbeats every open stream every heartbeatMs, with one timer that runs only while a stream is open', () => {
    expect(jest.getTimerCount()).toBe(0);
    const a = open(['t1']);
    const b = open(['t2']);
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(999);
    expect(a.response.frames).toEqual([]);
    jest.advanceTimersByTime(1);
    expect([a.response.frames, b.response.frames]).toEqual([[HEARTBEAT], [HEARTBEAT]]);
    a.stream.close();
    jest.advanceTimersByTime(1000);
    expect([a.response.frames.length, b.response.frames.length]).toEqual([1, 2]);
    b.stream.close();
    expect(jest.getTimerCount()).toBe(0);
    expect(streams.size).toBe(0);
  });

  it('refuses a stream past maxConnections or maxConnectionsPerTask with a 503 and Retry-After, before opening it', () => {
    open(['t1']);
    open(['t1']);
    let opened = false;
    const refused = (() => {
      try {
        streams.add('task', ['t1'], () => {
          opened = true;
          throw new Error('not opened');
        });
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(refused).toBeInstanceOf(TaskError);
    expect(refused).toMatchObject({ code: 'too_many_connections', status: 503, headers: { 'Retry-After': '4' } });
    expect((refused as Error).message).toContain('maxConnectionsPerTask');
    expect(opened).toBe(false);
    open(['t2']);
    expect(() => open(['t3'])).toThrow('maxConnections');
    expect(streams.size).toBe(3);
  });

  it('gives a slot back when its stream closes, however it closes', () => {
    const first = open(['t1']);
    open(['t1']);
    first.response.destroy(); // the client went away
    expect(() => open(['t1'])).not.toThrow();
    expect(streams.size).toBe(2);
  });

  it('ends every open stream on closeAll, and counts none after', () => {
    const opened = [open(['t1']), open(['t2']), open([])];
    streams.closeAll();
    expect(opened.map(({ response }) => response.ended)).toEqual([true, true, true]);
    expect(streams.size).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });
});
