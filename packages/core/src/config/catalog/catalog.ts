/**
 * The merged catalog of a run: presets and solution recipes from every
 * configured source, fetched once, concurrently; earlier sources win per name.
 */
import { CatalogManifestSchema } from "../schema.js";
import { validate } from "../validate.js";
import type { WrittenServiceEntry, WrittenSolution } from "../written.js";
import type { CatalogSource } from "./source.js";

export interface Catalog {
  /** Labels of the sources, in priority order (for "searched …" messages). */
  sources: string[];
  services: Map<string, { preset: WrittenServiceEntry; source: string }>;
  solutions: Map<string, { solution: WrittenSolution; source: string }>;
}

export async function loadCatalog(sources: readonly CatalogSource[]): Promise<Catalog> {
  const manifests = await Promise.all(
    sources.map(async (source) => ({
      source,
      manifest: validate(CatalogManifestSchema, await source.load(), `catalog ${source.label}`),
    })),
  );
  const catalog: Catalog = {
    sources: sources.map((s) => s.label),
    services: new Map(),
    solutions: new Map(),
  };
  for (const { source, manifest } of manifests) {
    for (const [name, preset] of Object.entries(manifest.services ?? {})) {
      if (!catalog.services.has(name)) catalog.services.set(name, { preset, source: source.label });
    }
    for (const [name, solution] of Object.entries(manifest.solutions ?? {})) {
      if (!catalog.solutions.has(name)) catalog.solutions.set(name, { solution, source: source.label });
    }
  }
  return catalog;
}
