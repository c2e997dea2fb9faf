// Multi-document YAML with comments on the objects and on nodes inside them (the reason above each
// RBAC rule, the failure-policy reasoning above each webhook). Formatting matches generate.ts's
// toYaml so every generated YAML file reads the same.
import { Document, isNode, isScalar, Scalar } from 'yaml';

/** A generated file before generate.ts adds the header (marker + `comment`). */
export interface PackagingFile {
  /** Path relative to the repository root, '/' separators. */
  path: string;
  body: string;
  /** Header comment lines (after the generated-file marker). */
  comment?: string;
}

export type YamlPath = readonly (string | number)[];

export interface YamlDoc {
  value: unknown;
  /** Comment above the document. */
  comment?: string;
  /** Comments above nodes inside the document. */
  notes?: { path: YamlPath; text: string }[];
  /** String nodes written as literal blocks (`|`), keeping their line breaks (markdown). */
  literal?: YamlPath[];
}

export const YAML_OPTIONS = { lineWidth: 100, minContentWidth: 40 } as const;

/** `text` as the yaml library's comment: each line gets a leading space (rendered `# line`). */
function commentText(text: string): string {
  return text
    .split('\n')
    .map((l) => ` ${l}`)
    .join('\n');
}

export function renderYamlDoc(d: YamlDoc): string {
  const doc = new Document(d.value);
  if (d.comment !== undefined) doc.commentBefore = commentText(d.comment);
  for (const n of d.notes ?? []) {
    const node: unknown = doc.getIn(n.path, true);
    if (!isNode(node)) throw new Error(`no YAML node at ${n.path.join('.')} for a comment`);
    node.commentBefore = commentText(n.text);
  }
  for (const path of d.literal ?? []) {
    const node: unknown = doc.getIn(path, true);
    if (!isScalar(node)) throw new Error(`no string at ${path.join('.')} for a literal block`);
    node.type = Scalar.BLOCK_LITERAL;
  }
  return doc.toString(YAML_OPTIONS);
}

/** Documents separated by `---`. */
export function renderYamlDocs(docs: readonly YamlDoc[]): string {
  return docs.map(renderYamlDoc).join('---\n');
}

/** Splits long prose into comment lines of at most `width` characters. */
export function wrap(text: string, width = 96): string {
  const out: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (const word of para.split(' ')) {
      if (line !== '' && line.length + 1 + word.length > width) {
        out.push(line);
        line = word;
      } else line = line === '' ? word : `${line} ${word}`;
    }
    out.push(line);
  }
  return out.join('\n');
}
