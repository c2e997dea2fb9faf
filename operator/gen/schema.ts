// Small typed builders for CustomResourceDefinition OpenAPI v3 schemas (apiextensions.k8s.io/v1).
// Every builder takes the `kubectl explain` description first, so no node can be written without
// one; constraints go in an options object. Keys come out in a fixed order, so the generated YAML
// is stable.

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface ValidationRule {
  /** CEL expression evaluated with `self` bound to the node the rule sits on. */
  rule: string;
  message: string;
  /** Where the error is reported, relative to the node (e.g. `.ports`). */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

export interface Schema {
  description?: string;
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  default?: JsonValue;
  enum?: JsonValue[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  items?: Schema;
  anyOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: Schema | boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'granular' | 'atomic';
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-validations'?: ValidationRule[];
}

interface Common {
  default?: JsonValue;
  validations?: ValidationRule[];
}

export interface StringOptions extends Common {
  enum?: readonly string[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  format?: string;
}

export interface IntegerOptions extends Common {
  minimum?: number;
  maximum?: number;
  /** int32 (default) or int64. */
  format?: 'int32' | 'int64';
}

export interface ObjectOptions extends Common {
  required?: readonly string[];
}

export interface ArrayOptions extends Common {
  minItems?: number;
  maxItems?: number;
  /** `x-kubernetes-list-type: map` keyed by these fields (server-side apply merges per item). */
  mapKeys?: readonly string[];
  listType?: 'atomic' | 'set';
}

function finish(s: Schema, o: Common): Schema {
  if (o.default !== undefined) s.default = o.default;
  if (o.validations !== undefined && o.validations.length > 0) s['x-kubernetes-validations'] = o.validations;
  return s;
}

export function str(description: string, o: StringOptions = {}): Schema {
  const s: Schema = { description, type: 'string' };
  if (o.format !== undefined) s.format = o.format;
  if (o.enum !== undefined) s.enum = [...o.enum];
  if (o.pattern !== undefined) s.pattern = o.pattern;
  if (o.minLength !== undefined) s.minLength = o.minLength;
  if (o.maxLength !== undefined) s.maxLength = o.maxLength;
  return finish(s, o);
}

export function int(description: string, o: IntegerOptions = {}): Schema {
  const s: Schema = { description, type: 'integer', format: o.format ?? 'int32' };
  if (o.minimum !== undefined) s.minimum = o.minimum;
  if (o.maximum !== undefined) s.maximum = o.maximum;
  return finish(s, o);
}

export interface NumberOptions extends Common {
  minimum?: number;
  maximum?: number;
}

/** A number that may have decimals (type number, format double). */
export function num(description: string, o: NumberOptions = {}): Schema {
  const s: Schema = { description, type: 'number', format: 'double' };
  if (o.minimum !== undefined) s.minimum = o.minimum;
  if (o.maximum !== undefined) s.maximum = o.maximum;
  return finish(s, o);
}

export function bool(description: string, o: Common = {}): Schema {
  return finish({ description, type: 'boolean' }, o);
}

export function obj(description: string, properties: Record<string, Schema>, o: ObjectOptions = {}): Schema {
  const s: Schema = { description, type: 'object', properties };
  if (o.required !== undefined && o.required.length > 0) s.required = [...o.required];
  return finish(s, o);
}

export function arr(description: string, items: Schema, o: ArrayOptions = {}): Schema {
  const s: Schema = { description, type: 'array', items };
  if (o.minItems !== undefined) s.minItems = o.minItems;
  if (o.maxItems !== undefined) s.maxItems = o.maxItems;
  if (o.mapKeys !== undefined) {
    s['x-kubernetes-list-type'] = 'map';
    s['x-kubernetes-list-map-keys'] = [...o.mapKeys];
  } else if (o.listType !== undefined) {
    s['x-kubernetes-list-type'] = o.listType;
  }
  return finish(s, o);
}

export interface MapOptions extends Common {
  maxProperties?: number;
}

/** A string-keyed map whose values follow `values` (labels, annotations, resource quantities). */
export function mapOf(description: string, values: Schema, o: MapOptions = {}): Schema {
  const s: Schema = { description, type: 'object', additionalProperties: values };
  if (o.maxProperties !== undefined) s.maxProperties = o.maxProperties;
  return finish(s, o);
}

/** A string-to-string map (labels, annotations). */
export function stringMap(description: string, o: MapOptions = {}): Schema {
  return mapOf(description, { type: 'string' }, o);
}

export interface IntOrStringOptions extends Common {
  /** Applies to string values only. */
  pattern?: string;
  /** Applies to string values only. */
  maxLength?: number;
}

/** An integer or a string (Kubernetes' IntOrString, e.g. a count or "50%", or a quantity). */
export function intOrString(description: string, o: IntOrStringOptions = {}): Schema {
  const s: Schema = {
    description,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    'x-kubernetes-int-or-string': true,
  };
  if (o.pattern !== undefined) s.pattern = o.pattern;
  if (o.maxLength !== undefined) s.maxLength = o.maxLength;
  return finish(s, o);
}

/**
 * An object kgw passes through without a schema of its own (a big core type such as Affinity):
 * the API server keeps every field, and the object it ends up in validates it.
 */
export function preservedObject(description: string, o: Common = {}): Schema {
  return finish({ description, type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, o);
}

export function rule(
  cel: string,
  message: string,
  extra: Pick<ValidationRule, 'fieldPath' | 'reason'> = {},
): ValidationRule {
  const r: ValidationRule = { rule: cel, message };
  if (extra.fieldPath !== undefined) r.fieldPath = extra.fieldPath;
  if (extra.reason !== undefined) r.reason = extra.reason;
  return r;
}

/** One problem per line for each way `root` is not a structural schema kgw is willing to ship. */
export function structuralProblems(root: Schema, path = '<root>'): string[] {
  const out: string[] = [];
  const walk = (s: Schema, p: string, isItems: boolean): void => {
    const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
    const intOrString = s['x-kubernetes-int-or-string'] === true;
    if (p === `${path}.metadata`) {
      if (Object.keys(s).some((k) => k !== 'type' && k !== 'properties')) {
        out.push(`${p}: the API server allows only type and properties on the root metadata`);
      }
      for (const k of Object.keys(s.properties ?? {})) {
        if (k !== 'name' && k !== 'generateName')
          out.push(`${p}: only name and generateName may be constrained`);
      }
    }
    if (s.type === undefined && !preserve && !intOrString) out.push(`${p}: no type`);
    if (intOrString && s.type !== undefined) out.push(`${p}: int-or-string with a type`);
    // The API server allows no description on the root's `metadata`.
    const rootMetadata = p === `${path}.metadata`;
    if (!isItems && !rootMetadata && (s.description === undefined || s.description.trim() === '')) {
      out.push(`${p}: no description`);
    }
    if (s.properties !== undefined && s.additionalProperties !== undefined) {
      out.push(`${p}: both properties and additionalProperties`);
    }
    if (
      s.type === 'object' &&
      s.properties === undefined &&
      s.additionalProperties === undefined &&
      !preserve
    ) {
      out.push(`${p}: object without properties`);
    }
    if (s.type === 'array' && s.items === undefined) out.push(`${p}: array without items`);
    for (const r of s.required ?? []) {
      if (s.properties?.[r] === undefined) out.push(`${p}: required field ${r} is not a property`);
    }
    for (const k of s['x-kubernetes-list-map-keys'] ?? []) {
      const key = s.items?.properties?.[k];
      if (key === undefined) out.push(`${p}: list map key ${k} is not a property of the items`);
      else if (!(s.items?.required ?? []).includes(k) && key.default === undefined) {
        out.push(`${p}: list map key ${k} must be required or defaulted`);
      }
    }
    for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, `${p}.${k}`, false);
    if (s.items !== undefined) walk(s.items, `${p}[]`, true);
    if (typeof s.additionalProperties === 'object') walk(s.additionalProperties, `${p}{}`, true);
  };
  walk(root, path, false);
  return out;
}
