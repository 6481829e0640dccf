/**
 * Kubernetes label-selector syntax (`key=value,key2 in (a,b),!key3`), parsed as apimachinery's
 * `labels.Parse` does, into node selector requirements so that one matcher serves both the annotation
 * and the pod's own affinity: `=`/`==` is `In [v]`, `!=` is `NotIn [v]` (both agree with the
 * selector's semantics, including a missing key), `key` is `Exists`, `!key` is `DoesNotExist`,
 * `>`/`<` are `Gt`/`Lt`.
 */
import type { V1NodeSelectorRequirement } from '@kubernetes/client-node';
import { labelKeyProblem, labelValueProblem, parseInt64 } from './labels.js';
import { err, ok, type Result } from './result.js';

type TokenKind =
  | 'identifier'
  | 'in'
  | 'notin'
  | '!'
  | '!='
  | '='
  | '=='
  | '>'
  | '<'
  | '('
  | ')'
  | ','
  | 'end'
  | 'error';
interface Token {
  readonly kind: TokenKind;
  readonly text: string;
}

const SYMBOLS: ReadonlySet<string> = new Set(['!', '!=', '=', '==', '>', '<', '(', ')', ',']);
const isWhitespace = (ch: string): boolean => ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';
const isSpecial = (ch: string): boolean => '=!(),><'.includes(ch);

function lex(text: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  for (;;) {
    while (pos < text.length && isWhitespace(text.charAt(pos))) pos++;
    if (pos >= text.length) {
      tokens.push({ kind: 'end', text: '' });
      return tokens;
    }
    if (isSpecial(text.charAt(pos))) {
      // Longest symbol that is a token, as the upstream lexer does ("!=" before "!", "==" before "=").
      let buffer = '';
      let last: Token | undefined;
      while (pos < text.length && isSpecial(text.charAt(pos))) {
        buffer += text.charAt(pos);
        if (SYMBOLS.has(buffer)) last = { kind: buffer as TokenKind, text: buffer };
        else if (last) break;
        pos++;
      }
      tokens.push(last ?? { kind: 'error', text: buffer });
      if (!last) return tokens;
      continue;
    }
    const start = pos;
    while (pos < text.length && !isSpecial(text.charAt(pos)) && !isWhitespace(text.charAt(pos))) pos++;
    const word = text.slice(start, pos);
    tokens.push({ kind: word === 'in' || word === 'notin' ? word : 'identifier', text: word });
  }
}

/** The accepted form, quoted in every error about a selector. */
export const SELECTOR_FORM = 'a label selector such as key=value,key2 in (a,b),!key3';

class SelectorParser {
  private position = 0;
  constructor(private readonly tokens: readonly Token[]) {}

  /** In a value position "in" and "notin" are plain words, as upstream's `lookahead(Values)`. */
  private peek(asValue = true): Token {
    const token = this.tokens[this.position] ?? { kind: 'end', text: '' };
    return asValue && (token.kind === 'in' || token.kind === 'notin')
      ? { kind: 'identifier', text: token.text }
      : token;
  }
  private next(asValue = true): Token {
    const token = this.peek(asValue);
    if (this.position < this.tokens.length) this.position++;
    return token;
  }

  parse(): Result<V1NodeSelectorRequirement[]> {
    const requirements: V1NodeSelectorRequirement[] = [];
    for (;;) {
      const token = this.peek();
      if (token.kind === 'end') return ok(requirements);
      if (token.kind !== 'identifier' && token.kind !== '!') {
        return err(`found '${token.text}', expected: !, identifier, or end of string`);
      }
      const requirement = this.requirement();
      if (!requirement.ok) return requirement;
      requirements.push(requirement.value);
      const after = this.next();
      if (after.kind === 'end') return ok(requirements);
      if (after.kind !== ',') return err(`found '${after.text}', expected: ',' or end of string`);
      const following = this.peek();
      if (following.kind !== 'identifier' && following.kind !== '!') {
        return err(`found '${following.text}', expected: identifier after ','`);
      }
    }
  }

  private requirement(): Result<V1NodeSelectorRequirement> {
    let negated = false;
    let token = this.next();
    if (token.kind === '!') {
      negated = true;
      token = this.next();
    }
    if (token.kind !== 'identifier') return err(`found '${token.text}', expected: identifier`);
    const key = token.text;
    const problem = labelKeyProblem(key);
    if (problem) return err(`invalid label key "${key}": ${problem}`);
    const after = this.peek();
    if (after.kind === 'end' || after.kind === ',') {
      return ok({ key, operator: negated ? 'DoesNotExist' : 'Exists' });
    }
    if (negated) return err(`found '${after.text}', expected: ',' or end of string after !${key}`);

    const op = this.next(false);
    let operator: string;
    let values: Result<string[]>;
    switch (op.kind) {
      case 'in':
      case 'notin':
        operator = op.kind === 'in' ? 'In' : 'NotIn';
        values = this.valueList();
        break;
      case '=':
      case '==':
      case '!=':
      case '>':
      case '<':
        operator = { '=': 'In', '==': 'In', '!=': 'NotIn', '>': 'Gt', '<': 'Lt' }[op.kind];
        values = this.exactValue();
        break;
      default:
        return err(`found '${op.text}', expected: in, notin, =, ==, !=, >, <`);
    }
    if (!values.ok) return values;
    if (operator === 'Gt' || operator === 'Lt') {
      // An integer, negative ones included (see match.ts), rather than a label value.
      if (parseInt64(values.value[0] ?? '') === undefined) {
        return err(`the value of ${key} ${op.text} must be an integer, found "${values.value[0] ?? ''}"`);
      }
    } else {
      for (const value of values.value) {
        const valueProblem = labelValueProblem(value);
        if (valueProblem) return err(`invalid value "${value}" for ${key}: ${valueProblem}`);
      }
    }
    return ok({ key, operator, values: values.value });
  }

  private exactValue(): Result<string[]> {
    const token = this.peek();
    if (token.kind === 'end' || token.kind === ',') return ok(['']);
    this.next();
    return token.kind === 'identifier'
      ? ok([token.text])
      : err(`found '${token.text}', expected: identifier`);
  }

  /** `(a,b)`; `()`, `(,a)` and `(a,)` contain the empty value, as upstream. */
  private valueList(): Result<string[]> {
    const open = this.next();
    if (open.kind !== '(') return err(`found '${open.text}', expected: '('`);
    const values = new Set<string>();
    if (this.peek().kind === ')') {
      this.next();
      return ok(['']);
    }
    for (;;) {
      const token = this.next();
      if (token.kind === 'identifier') {
        values.add(token.text);
        const after = this.peek();
        if (after.kind === ')') break;
        if (after.kind !== ',') return err(`found '${after.text}', expected: ',' or ')'`);
      } else if (token.kind === ',') {
        const after = this.peek();
        if (values.size === 0 || after.kind === ')' || after.kind === ',') values.add('');
        if (after.kind === ')') break;
      } else {
        return err(`found '${token.text}', expected: ',', ')' or identifier`);
      }
    }
    this.next();
    return ok([...values]);
  }
}

/**
 * Parses a label selector. An empty selector is refused: upstream reads it as "everything", which
 * would make the annotation silently disable enforcement.
 */
export function parseSelector(text: string): Result<V1NodeSelectorRequirement[]> {
  const parsed = new SelectorParser(lex(text)).parse();
  if (parsed.ok && parsed.value.length === 0) return err('the selector is empty');
  return parsed;
}

/** A requirement in label-selector syntax, as a user would write it in the annotation. */
export function formatRequirement(requirement: V1NodeSelectorRequirement): string {
  const { key, operator } = requirement;
  const values = requirement.values ?? [];
  switch (operator) {
    case 'In':
      return values.length === 1 ? `${key}=${values[0]}` : `${key} in (${values.join(',')})`;
    case 'NotIn':
      return values.length === 1 ? `${key}!=${values[0]}` : `${key} notin (${values.join(',')})`;
    case 'Exists':
      return key;
    case 'DoesNotExist':
      return `!${key}`;
    case 'Gt':
      return `${key}>${values.join(',')}`;
    case 'Lt':
      return `${key}<${values.join(',')}`;
    default:
      return `${key} ${operator} (${values.join(',')})`;
  }
}
