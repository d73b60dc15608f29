import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Type } from 'typebox';
import { checkValue } from './check-value.ts';
import { Invalid } from './errors.ts';
import { schemaCheck } from './schema-check.ts';

// Ajv runs TypeBox's schemas here (see schema-check.ts). Where the two could
// differ, TypeBox's meaning is kept: refinements, and values left as they were.

const short = Type.Refine(Type.String({ maxLength: 3 }), (v) => v.length <= 3);
const pair = Type.Refine(
  Type.Object({ a: Type.Optional(short), b: Type.Optional(Type.String()) }, { additionalProperties: false }),
  (v) => v.a === undefined || v.a !== v.b,
);

test('a refinement is asked only about a value its schema allows, and names itself by position', () => {
  let asked = 0;
  const counted = Type.Refine(Type.String(), (v) => {
    asked++;
    return v !== 'no';
  });
  const check = schemaCheck(counted);
  assert.equal(check.check(null), false);
  assert.equal(check.check(5), false);
  assert.equal(asked, 0, 'never called with a value that is not a string');
  assert.deepEqual(
    check.errors(5).map((e) => e.keyword),
    ['type'],
  );
  assert.equal(check.check('yes'), true);
  assert.equal(check.check('no'), false);
  assert.deepEqual(
    check.errors('no').map((e) => [e.keyword, e.params]),
    [['refine', { index: 0 }]],
  );
  const two = Type.Refine(
    Type.Refine(Type.Number(), (v) => v > 0),
    (v) => v < 10,
  );
  assert.deepEqual(schemaCheck(two).errors(-1)[0]!.params, { index: 0 });
  assert.deepEqual(schemaCheck(two).errors(11)[0]!.params, { index: 1 });
});

test('refinements inside objects: a property’s runs with the others wrong, the object’s only when all are right', () => {
  const check = schemaCheck(pair);
  // JSON Schema's maxLength counts code points; the refinement counts UTF-16 units as String.length does.
  assert.equal(check.check({ a: '😀😀' }), false);
  assert.deepEqual(
    check.errors({ a: '😀😀', zzz: 1 }).map((e) => [e.keyword, e.instancePath]),
    [
      ['additionalProperties', ''],
      ['refine', '/a'],
    ],
  );
  // a equal to b breaks the object's rule, which is not asked while a field is wrong.
  assert.deepEqual(
    check.errors({ a: 'x', b: 'x' }).map((e) => [e.keyword, e.instancePath]),
    [['refine', '']],
  );
  assert.deepEqual(
    check.errors({ a: 'x', b: 1 }).map((e) => [e.keyword, e.instancePath]),
    [['type', '/b']],
  );
  assert.equal(check.check({ a: 'x', b: 'y' }), true);
});

test('a check fills in no default and changes nothing in the value it checks', () => {
  const schema = Type.Object({
    mode: Type.Optional(Type.String({ default: 'event' })),
    list: Type.Optional(Type.Array(Type.String(), { default: [] })),
    n: Type.Optional(Type.Integer()),
  });
  const value = { n: 1 };
  assert.equal(schemaCheck(schema).check(value), true);
  assert.deepEqual(value, { n: 1 });
  const text = { n: '1' };
  assert.equal(schemaCheck(schema).check(text), false, 'no type coercion');
  assert.deepEqual(text, { n: '1' });
});

test('checkValue names each field at fault: a missing one is required, an unknown one not known, "must not" in lower case', () => {
  const schema = Type.Object(
    {
      url: Type.String({ maxLength: 5 }),
      mode: Type.Union([Type.Literal('event'), Type.Literal('file')]),
      kind: Type.Optional(Type.Enum(['a', 'b'], { type: 'string' })),
    },
    { additionalProperties: false },
  );
  const errorsOf = (value: unknown) => {
    try {
      checkValue(schema, value, 'settings');
      return [];
    } catch (err) {
      assert.ok(err instanceof Invalid);
      return err.errors;
    }
  };
  assert.deepEqual(errorsOf({ url: 'x', mode: 'file' }), []);
  assert.deepEqual(errorsOf({ mode: 'file', zzz: 1, kind: 'c' }), [
    { path: 'settings.url', message: 'is required' },
    { path: 'settings.zzz', message: 'is not a known field' },
    { path: 'settings.kind', message: 'must be one of a, b' },
  ]);
  assert.deepEqual(errorsOf({ url: 'toolong', mode: 'file' }), [
    { path: 'settings.url', message: 'must not have more than 5 characters' },
  ]);
});
