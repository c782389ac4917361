/**
 * The one YAML serializer for every artifact kaupang writes. Artifacts are
 * plain JSON-shaped data, so this emits block-style YAML directly (the `yaml`
 * library's document model made it 40% of a large dry-run; see
 * docs/benchmarks.md). Output is byte-stable, and quoting is conservative: a
 * string stays plain only when every YAML 1.1 and 1.2 reader (compose's
 * go-yaml v3, kubectl's sigs.k8s.io/yaml) reads it back as the same string;
 * anything else is written as a JSON string, which is valid double-quoted YAML.
 * Reading an artifact back goes through here too: the `yaml` library parses
 * only artifacts recorded by an older kaupang.
 */

import { createRequire } from "node:module";

type YamlReader = typeof import("./yaml-reader.js");
let reader: YamlReader | undefined;

/**
 * The YAML reader, loaded on first use: built, it is dist/yaml-reader.cjs
 * next to this bundle; run from source (tests), the yaml package itself.
 */
function yamlReader(): YamlReader {
  if (!reader) {
    const require = createRequire(import.meta.url);
    try {
      reader = require("./yaml-reader.cjs") as YamlReader;
    } catch {
      reader = require("yaml") as YamlReader;
    }
  }
  return reader;
}

// Starts with a letter, "_" or "/"; no characters that mean something in YAML.
const plainSafe = /^[A-Za-z_/][A-Za-z0-9_./:@,=+$~ ()-]*$/;
// Words YAML 1.1 reads as booleans or null.
const reserved = /^(y|yes|n|no|true|false|on|off|null)$/i;

function scalarString(value: string): string {
  if (
    plainSafe.test(value) &&
    !reserved.test(value) &&
    !value.includes(": ") &&
    !value.endsWith(" ") &&
    !value.endsWith(":")
  ) {
    return value;
  }
  return JSON.stringify(value);
}

function scalar(value: unknown): string | undefined {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return scalarString(value);
    case "number":
      if (!Number.isFinite(value)) throw new Error(`cannot write ${value} to YAML`);
      return String(value);
    case "boolean":
      return String(value);
    case "object":
      if (Array.isArray(value) && value.length === 0) return "[]";
      if (!Array.isArray(value) && Object.values(value).every((v) => v === undefined)) return "{}";
      return undefined;
    default:
      throw new Error(`cannot write a ${typeof value} to YAML`);
  }
}

function writeMap(map: Record<string, unknown>, pad: string, out: string[], firstPrefix?: string): void {
  let first = true;
  for (const [key, value] of Object.entries(map)) {
    if (value === undefined) continue;
    const lead = first && firstPrefix !== undefined ? firstPrefix : pad;
    first = false;
    const k = scalarString(key);
    const s = scalar(value);
    if (s !== undefined) out.push(`${lead}${k}: ${s}`);
    else {
      out.push(`${lead}${k}:`);
      writeNode(value, `${pad}  `, out);
    }
  }
}

function writeSeq(items: readonly unknown[], pad: string, out: string[]): void {
  for (const item of items) {
    const s = scalar(item === undefined ? null : item);
    if (s !== undefined) out.push(`${pad}- ${s}`);
    else if (Array.isArray(item)) {
      out.push(`${pad}-`);
      writeSeq(item, `${pad}  `, out);
    } else writeMap(item as Record<string, unknown>, `${pad}  `, out, `${pad}- `);
  }
}

function writeNode(value: unknown, pad: string, out: string[]): void {
  if (Array.isArray(value)) writeSeq(value, pad, out);
  else writeMap(value as Record<string, unknown>, pad, out);
}

/** One YAML document for `document` (an object, array or scalar), ending in a newline. */
export function toYaml(document: unknown): string {
  const s = scalar(document);
  if (s !== undefined) return `${s}\n`;
  const out: string[] = [];
  writeNode(document, "", out);
  return `${out.join("\n")}\n`;
}

/**
 * A map document emitted in pieces: the lines before and after its `key`
 * entry, and each entry of the map under `key` on its own. Documents that hold
 * only some of those entries (a stack file's waves) are then joined from the
 * pieces instead of being emitted again; the text is the same as toYaml's.
 */
interface SplitYaml {
  /** The lines before and after the entry of `key`, each part joined (empty when there are none). */
  head: string;
  key: string;
  entries: [name: string, text: string][];
  tail: string;
}

export function splitYaml(document: Record<string, unknown>, key: string): SplitYaml {
  const head: string[] = [];
  const tail: string[] = [];
  const entries: SplitYaml["entries"] = [];
  let seen = false;
  for (const [name, value] of Object.entries(document)) {
    if (value === undefined) continue;
    if (name === key) {
      seen = true;
      for (const [entry, entryValue] of Object.entries(value as Record<string, unknown>)) {
        const lines: string[] = [];
        writeMap({ [entry]: entryValue }, "  ", lines);
        entries.push([entry, lines.join("\n")]);
      }
      continue;
    }
    writeMap({ [name]: value }, "", seen ? tail : head);
  }
  return { head: head.join("\n"), key: scalarString(key), entries, tail: tail.join("\n") };
}

/** The document of a split, with only the entries named in `only` (default all). */
export function joinYaml(split: SplitYaml, only?: readonly string[]): string {
  const entries = only ? split.entries.filter(([name]) => only.includes(name)) : split.entries;
  const parts = split.head ? [split.head] : [];
  if (entries.length === 0) parts.push(`${split.key}: {}`);
  else {
    parts.push(`${split.key}:`);
    for (const [, text] of entries) parts.push(text);
  }
  if (split.tail) parts.push(split.tail);
  return `${parts.join("\n")}\n`;
}

/** Multi-document YAML (`---` between documents). */
export function toYamlStream(documents: readonly unknown[]): string {
  return documents.map(toYaml).join("---\n");
}

/** An artifact: a comment line, then one YAML document each (`---` between them). */
export function artifactText(header: string, documents: readonly unknown[]): string {
  return `# ${header}\n${toYamlStream(documents)}`;
}

/**
 * The documents of an artifact's text. Only artifacts recorded by an older
 * kaupang are read back (plan/unit.ts); the planner carries what it rendered.
 */
export function parseArtifact(content: string): readonly unknown[] {
  return yamlReader()
    .parseAllDocuments(content)
    .map((d) => d.toJS() as unknown);
}
