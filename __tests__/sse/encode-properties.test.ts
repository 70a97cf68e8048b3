import fc from 'fast-check';
import type { EventSourceMessage } from 'eventsource-parser';
import { encodeEvent } from '../../src/sse/encode';
import { parseSse } from '../helpers/sse';

/** Every event an independent parser (eventsource-parser) reads from `text`. */
const parse = (text: string): EventSourceMessage[] => parseSse(text).events;

/** What SSE can carry of a string: every line break (CR, LF, CRLF) arrives as LF. */
const normalized = (text: string): string => text.replace(/\r\n|\r/g, '\n');
const singleLine = fc.string({ unit: 'binary' }).filter((s) => !/[\r\n\0]/.test(s));
const seed = Number(process.env.FC_SEED ?? 20261006);

describe('encodeEvent (properties, fast-check)', () => {
  it('gives back any string as data, line breaks as LF, with its event name and id', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        singleLine.filter((s) => s.length > 0),
        singleLine,
        (data, event, id) => {
          const [parsed, ...rest] = parse(encodeEvent({ event, id, data }));
          expect(rest).toEqual([]);
          expect(parsed).toEqual({ event, id, data: normalized(data) });
        },
      ),
      { seed, numRuns: 2_000 },
    );
  });

  it('gives back any string exactly when it has no CR or LF, and any JSON text (which never has them)', () => {
    fc.assert(
      fc.property(singleLine, fc.jsonValue(), (text, value) => {
        expect(parse(encodeEvent({ event: 'progress', data: text }))[0]?.data).toBe(text);
        const json = JSON.stringify(value) ?? 'null';
        expect(parse(encodeEvent({ event: 'status', id: '1', data: json }))[0]?.data).toBe(json);
      }),
      { seed, numRuns: 1_000 },
    );
  });

  it('refuses any id or event name containing CR or LF, whatever surrounds it', () => {
    const withBreak = fc
      .tuple(fc.string({ unit: 'binary' }), fc.constantFrom('\r', '\n', '\r\n'), fc.string({ unit: 'binary' }))
      .map(([a, b, c]) => a + b + c);
    fc.assert(
      fc.property(withBreak, (bad) => {
        expect(() => encodeEvent({ id: bad, data: 'x' })).toThrow(TypeError);
        expect(() => encodeEvent({ event: bad, data: 'x' })).toThrow(TypeError);
      }),
      { seed, numRuns: 1_000 },
    );
  });

  it('never lets data inject a field: whatever the data, the parser sees one event with our name and id', () => {
    const hostile = fc
      .array(fc.constantFrom('\n', '\r', '\r\n', 'event: x', 'id: 999', 'retry: 1', 'data: y', ':', ''), {
        maxLength: 20,
      })
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(hostile, (data) => {
        const events = parse(encodeEvent({ event: 'progress', id: '7', data }));
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({ event: 'progress', id: '7' });
      }),
      { seed, numRuns: 1_000 },
    );
  });
});
