import { describe, expect, it } from 'vitest';
import { formatRequirement, parseSelector } from '../src/selector.js';

describe('parseSelector reads Kubernetes label-selector syntax', () => {
  it.each([
    ['key=value is In [value]', 'usb=true', [{ key: 'usb', operator: 'In', values: ['true'] }]],
    ['key==value is In [value]', 'usb==true', [{ key: 'usb', operator: 'In', values: ['true'] }]],
    ['key!=value is NotIn [value]', 'zone!=a', [{ key: 'zone', operator: 'NotIn', values: ['a'] }]],
    ['in (a,b)', 'arch in (arm64, amd64)', [{ key: 'arch', operator: 'In', values: ['arm64', 'amd64'] }]],
    ['notin (a,b)', 'zone notin (a,b)', [{ key: 'zone', operator: 'NotIn', values: ['a', 'b'] }]],
    ['a bare key is Exists', 'usb', [{ key: 'usb', operator: 'Exists' }]],
    ['!key is DoesNotExist', '!usb', [{ key: 'usb', operator: 'DoesNotExist' }]],
    ['! may be followed by spaces', '! usb', [{ key: 'usb', operator: 'DoesNotExist' }]],
    ['key>n is Gt', 'cores>4', [{ key: 'cores', operator: 'Gt', values: ['4'] }]],
    ['key<n is Lt, negative allowed', 't<-1', [{ key: 't', operator: 'Lt', values: ['-1'] }]],
    ['key= is the empty value', 'a=', [{ key: 'a', operator: 'In', values: [''] }]],
    ['in () holds the empty value', 'a in ()', [{ key: 'a', operator: 'In', values: [''] }]],
    [
      'a trailing comma in a set adds the empty value',
      'a in (x,)',
      [{ key: 'a', operator: 'In', values: ['x', ''] }],
    ],
    ['duplicate values collapse', 'a in (x,x)', [{ key: 'a', operator: 'In', values: ['x'] }]],
    ['"in" is a valid key and value', 'in in (in)', [{ key: 'in', operator: 'In', values: ['in'] }]],
    [
      'requirements are comma separated and ANDed',
      'feature.node.kubernetes.io/usb-ff_10c4_ea60.present=true, kubernetes.io/arch in (arm64), !maintenance',
      [
        { key: 'feature.node.kubernetes.io/usb-ff_10c4_ea60.present', operator: 'In', values: ['true'] },
        { key: 'kubernetes.io/arch', operator: 'In', values: ['arm64'] },
        { key: 'maintenance', operator: 'DoesNotExist' },
      ],
    ],
    [
      'whitespace is allowed everywhere',
      '  a = b ,c  ',
      [
        { key: 'a', operator: 'In', values: ['b'] },
        { key: 'c', operator: 'Exists' },
      ],
    ],
  ])('%s', (_name, text, expected) => {
    expect(parseSelector(text)).toEqual({ ok: true, value: expected });
  });

  it.each([
    ['an empty selector', '', 'empty'],
    ['only whitespace', '   ', 'empty'],
    ['a trailing comma', 'a=b,', 'expected: identifier after'],
    ['a missing value list', 'a in', "expected: '('"],
    ['an unclosed value list', 'a in (b', "expected: ',' or ')'"],
    ['two words', 'a b', "found 'b'"],
    ['an operator after !key', '!a=b', 'after !a'],
    ['an invalid key', 'bad/key/x=1', 'invalid label key'],
    ['an invalid value', 'a=-x', 'invalid value'],
    ['a non-integer Gt', 'a>b', 'must be an integer'],
    ['an unknown symbol', 'a=>b', "found '>'"],
    ['a lone operator', '=', "found '='"],
  ])('refuses %s', (_name, text, message) => {
    const parsed = parseSelector(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toContain(message);
  });

  it('formats requirements back into the same syntax', () => {
    const text = 'a=1,b!=2,c in (x,y),d notin (x,y),e,!f,g>1,h<2';
    const parsed = parseSelector(text);
    expect(parsed.ok && parsed.value.map(formatRequirement).join(',')).toBe(text);
  });
});
