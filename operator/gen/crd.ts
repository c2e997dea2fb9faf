// The apiextensions.k8s.io/v1 CustomResourceDefinition shape (the fields kgw generates).
import type { Schema } from './schema.ts';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  /** 0: always shown; 1: only with `-o wide`. */
  priority?: number;
}

export interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema: { openAPIV3Schema: Schema };
  subresources?: { status?: Record<string, never> };
  additionalPrinterColumns?: PrinterColumn[];
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    group: string;
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames?: string[];
      categories?: string[];
    };
    scope: 'Cluster' | 'Namespaced';
    versions: CrdVersion[];
  };
}

/**
 * The standard root properties every custom resource schema carries. The API server allows only
 * `type` on `metadata` and only simple constraints on `metadata.name` (its description is replaced
 * by ObjectMeta's in `kubectl explain`): put what users must know about the name in the root's
 * description.
 */
export function rootProperties(kind: string, apiVersion: string, name: Schema): Record<string, Schema> {
  return {
    apiVersion: {
      description: `API version of this object; ${apiVersion} for this schema.`,
      type: 'string',
    },
    kind: { description: `Kind of this object; ${kind}.`, type: 'string' },
    metadata: { type: 'object', properties: { name } },
  };
}
