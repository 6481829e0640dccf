/**
 * Kubernetes' syntax rules for label keys and values (apimachinery `validation.IsQualifiedName`,
 * `IsValidLabelValue`) and for the integers of Gt/Lt (Go's `strconv.ParseInt(s, 10, 64)`).
 */

const NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAME_MAX = 63;
const PREFIX_MAX = 253;

/** Why `key` is not a valid label key, or undefined when it is. */
export function labelKeyProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return 'a label key has at most one "/" (prefix/name)';
  const name = parts.length === 2 ? (parts[1] ?? '') : key;
  if (parts.length === 2) {
    const prefix = parts[0] ?? '';
    if (prefix.length === 0) return 'the prefix before "/" must not be empty';
    if (prefix.length > PREFIX_MAX) return `the prefix must be at most ${PREFIX_MAX} characters`;
    if (!DNS1123_SUBDOMAIN.test(prefix))
      return 'the prefix must be a lower-case DNS subdomain, e.g. example.com';
  }
  if (name.length === 0) return 'the name part must not be empty';
  if (name.length > NAME_MAX) return `the name part must be at most ${NAME_MAX} characters`;
  if (!NAME.test(name)) {
    return 'the name part must be alphanumeric, may contain "-", "_" and ".", and must start and end with an alphanumeric character';
  }
  return undefined;
}

/** Why `value` is not a valid label value, or undefined when it is (the empty value is valid). */
export function labelValueProblem(value: string): string | undefined {
  if (value.length === 0) return undefined;
  if (value.length > NAME_MAX) return `a label value must be at most ${NAME_MAX} characters`;
  if (!NAME.test(value)) {
    return 'a label value must be empty or alphanumeric, may contain "-", "_" and ".", and must start and end with an alphanumeric character';
  }
  return undefined;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits only, within int64; undefined otherwise. */
export function parseInt64(text: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
  const value = BigInt(text);
  return value < INT64_MIN || value > INT64_MAX ? undefined : value;
}
