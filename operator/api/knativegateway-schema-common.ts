// KnativeGateway API (operator.kgw.dev/v1alpha1), TypeBox schema: helpers shared by its modules (CEL
// literals, label maps).
import { LIMITS, QUALIFIED_NAME_PATTERN, LABEL_VALUE_PATTERN, MESSAGES } from './knativegateway-constants.ts';
import { MapOf, MapValue, cel, type CelRule } from './schema-builders.ts';

const QUALIFIED_NAME_RE = new RegExp(QUALIFIED_NAME_PATTERN);

/** A CEL string literal for `s` (backslashes and quotes escaped). */
export function celString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** CEL on a map: every key is a qualified name (label/annotation key syntax). */
export function qualifiedKeys(): CelRule {
  return cel(
    `self.all(k, k.matches(${celString(QUALIFIED_NAME_PATTERN)}))`,
    MESSAGES.qualifiedNameKeys,
    (m: Record<string, unknown>) => Object.keys(m).every((k) => QUALIFIED_NAME_RE.test(k)),
  );
}

/** A map of label keys to label values (node selectors, domain selectors). */
export function labelMap(description: string, validations: readonly CelRule[] = []) {
  return MapOf(
    description,
    MapValue({ maxLength: LIMITS.labelValueMaxLength, pattern: LABEL_VALUE_PATTERN }),
    { maxProperties: LIMITS.maxMapEntries, validations: [qualifiedKeys(), ...validations] },
  );
}
