import { encodeEvent, encodeRetry } from '../../src/sse/encode';
import { parseSse } from '../helpers/sse';

const parse = parseSse;

describe('encodeEvent', () => {
  it('writes event, id and one data line per line, in that order, ending with a blank line', () => {
    expect(encodeEvent({ event: 'progress', id: '7', data: 'a\nb' })).toBe(
      'event: progress\nid: 7\ndata: a\ndata: b\n\n',
    );
  });

  it('treats CR, LF and CRLF alike as line breaks in data', () => {
    expect(encodeEvent({ data: 'a\rb\r\nc\nd' })).toBe('data: a\ndata: b\ndata: c\ndata: d\n\n');
  });

  it('keeps empty lines of data, so the parsed data is identical', () => {
    const data = '\nfirst\n\n  indented\n';
    expect(encodeEvent({ data })).toBe('data: \ndata: first\ndata: \ndata:   indented\ndata: \n\n');
    expect(parse(encodeEvent({ data })).events[0]?.data).toBe(data);
  });

  it('writes an empty data field for empty data, which a browser still dispatches', () => {
    expect(encodeEvent({ event: 'x', data: '' })).toBe('event: x\ndata: \n\n');
  });

  it('leaves out the fields it is not given', () => {
    expect(encodeEvent({ data: '{}' })).toBe('data: {}\n\n');
    expect(encodeEvent({ event: 'heartbeat', data: '{}' })).toBe('event: heartbeat\ndata: {}\n\n');
  });

  it.each(['a\nb', 'a\rb', 'a\r\nb'])('refuses a line break in the id (%j)', (id) => {
    expect(() => encodeEvent({ id, data: 'x' })).toThrow(TypeError);
  });

  it.each(['a\nb', 'a\rb'])('refuses a line break in the event name (%j)', (event) => {
    expect(() => encodeEvent({ event, data: 'x' })).toThrow(/must not contain CR or LF/);
  });

  it('refuses NULL in the id, which a parser would ignore', () => {
    expect(() => encodeEvent({ id: 'a\0b', data: 'x' })).toThrow(/NULL/);
  });

  it('round-trips through an independent parser, leading spaces and unicode included', () => {
    const sample = { event: 'progress', id: '42', data: ' {"message":"héllo ✓"}\r\nline two' };
    const { events } = parse(encodeEvent(sample));
    expect(events).toEqual([{ event: 'progress', id: '42', data: ' {"message":"héllo ✓"}\nline two' }]);
  });

  it('keeps several events apart in one chunk', () => {
    const text = encodeEvent({ id: '1', data: 'a' }) + encodeEvent({ id: '2', data: 'b' });
    expect(parse(text).events.map((e) => [e.id, e.data])).toEqual([
      ['1', 'a'],
      ['2', 'b'],
    ]);
  });
});

describe('encodeRetry', () => {
  it('writes the field alone, so the next event ends its block: the delay is read, and nothing is dispatched for it', () => {
    expect(encodeRetry(1500)).toBe('retry: 1500\n');
    const stream = parse(encodeRetry(1500) + encodeEvent({ event: 'status', id: '1', data: '{}' }));
    expect(stream.retries).toEqual([1500]);
    expect(stream.events).toEqual([{ event: 'status', id: '1', data: '{}' }]);
  });

  it.each([-1, 1.5, Number.NaN])('refuses %p', (ms) => {
    expect(() => encodeRetry(ms)).toThrow(TypeError);
  });
});
