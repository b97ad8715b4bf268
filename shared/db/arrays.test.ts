import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePgArray, serializePgArray } from './arrays.js';

describe('parsePgArray', () => {
  it('parses unquoted, quoted, escaped and NULL elements', () => {
    assert.deepEqual(parsePgArray('{a,"b c","with \\"q\\"","back\\\\slash",NULL,"NULL",""}'), ['a', 'b c', 'with "q"', 'back\\slash', null, 'NULL', '']);
  });

  it('parses empty and nested arrays', () => {
    assert.deepEqual(parsePgArray('{}'), []);
    assert.deepEqual(parsePgArray('{{1,2},{3,4}}', Number), [[1, 2], [3, 4]]);
    assert.deepEqual(parsePgArray('{{},{}}'), [[], []]);
  });

  it('skips dimension bounds', () => {
    assert.deepEqual(parsePgArray('[0:1]={x,y}'), ['x', 'y']);
  });

  it('applies the element parser to non-NULL elements only', () => {
    assert.deepEqual(parsePgArray('{1,NULL,3}', Number), [1, null, 3]);
  });

  it('rejects malformed literals instead of guessing', () => {
    for (const bad of ['', 'a,b', '{"open', '{a}x', '{a']) assert.throws(() => parsePgArray(bad), TypeError, bad);
  });
});

describe('serializePgArray', () => {
  it('quotes and escapes every element so that parsing gives it back', () => {
    const value = ['a', 'b,c', 'q"q', 'back\\slash', null, 'NULL', '', '{x}', [1, 2]];
    assert.equal(serializePgArray(['x', null]), '{"x",NULL}');
    assert.deepEqual(parsePgArray(serializePgArray(value)), ['a', 'b,c', 'q"q', 'back\\slash', null, 'NULL', '', '{x}', ['1', '2']]);
  });

  it('passes a literal through and rejects anything else', () => {
    assert.equal(serializePgArray('{1,2}'), '{1,2}');
    assert.throws(() => serializePgArray(42), TypeError);
  });
});
