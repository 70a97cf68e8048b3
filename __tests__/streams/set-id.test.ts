// The multiplexed stream's event ids: a position per task, as form-encoded text, that parses back exactly and
// never throws on anything a client sends.
import fc from 'fast-check';
import { encodeSetId, MAX_SET_ID_LENGTH, parseSetId, withTaskId, type Positions } from '../../src/streams/set-id';

describe('the set id codec', () => {
  it('encodes positions in their order, keys and values form-encoded', () => {
    const positions: Positions = new Map([
      ['0', '12'],
      ['1', ''],
      ['_', '1763790000123-0'],
      ['a b&c', 'x=y'],
    ]);
    expect(encodeSetId(positions)).toBe('0=12&1=&_=1763790000123-0&a+b%26c=x%3Dy');
  });

  it('parses back what it encoded, for any keys and values', () => {
    const key = fc.string({ minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(key, fc.string({ maxLength: 30 })), { selector: ([k]) => k }), (pairs) => {
        const positions: Positions = new Map(pairs);
        const id = encodeSetId(positions);
        if (id.length <= MAX_SET_ID_LENGTH && positions.size > 0) expect(parseSetId(id)).toEqual(positions);
      }),
      { seed: 20261201 },
    );
  });

  it.each([
    ['nothing', undefined],
    ['an empty id', ''],
    ['a single-task id', '1763790000123-0'],
    ['a key without a value', '0=1&1'],
    ['an empty key', '=1'],
    ['a trailing separator', '0=1&'],
    ['an id over 8 KiB', `0=${'1'.repeat(MAX_SET_ID_LENGTH)}`],
  ])('gives no positions for %s', (_what, id) => {
    expect(parseSetId(id)).toEqual(new Map());
  });

  it('keeps the first of a repeated key', () => {
    expect(parseSetId('0=1&0=2&1=3')).toEqual(
      new Map([
        ['0', '1'],
        ['1', '3'],
      ]),
    );
  });

  it('never throws, whatever a client sends', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (id) => {
        expect(() => parseSetId(id)).not.toThrow();
      }),
      { seed: 20261201 },
    );
  });
});

describe('withTaskId', () => {
  it('puts taskId first in an object, alone in an empty one, and wraps anything else', () => {
    expect(withTaskId('t1', '{"percent":5}')).toBe('{"taskId":"t1","percent":5}');
    expect(withTaskId('t1', '{ }')).toBe('{"taskId":"t1"}');
    expect(withTaskId('t"1', '[1]')).toBe('{"taskId":"t\\"1","data":[1]}');
    expect(JSON.parse(withTaskId('t1', '{"a":{"b":1}}'))).toEqual({ taskId: 't1', a: { b: 1 } });
  });
});
