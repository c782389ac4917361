import { stringify } from "yaml";

/**
 * The one YAML serializer, with fixed options so artifacts are byte-stable.
 * YAML 1.1 output quotes strings such as "no", "on" or "0755" that YAML 1.1
 * readers (kubectl's sigs.k8s.io/yaml) would otherwise turn into booleans or
 * numbers; compose's 1.2 reader reads the quoted forms identically.
 */
export function toYaml(document: unknown): string {
  return stringify(document, {
    version: "1.1",
    lineWidth: 0,
    indent: 2,
    aliasDuplicateObjects: false,
    sortMapEntries: false,
  });
}

/** Multi-document YAML (`---` between documents). */
export function toYamlStream(documents: readonly unknown[]): string {
  return documents.map(toYaml).join("---\n");
}
