/**
 * The palette's catalog: the one given with --catalog (a file, an http(s) URL
 * or oci://ref), else the project's configured sources. It is fetched when the
 * page first asks and again only on an explicit reload; no API call can name
 * another location to fetch.
 */
import { type Catalog, catalogSource, loadCatalog, type Project } from "@kaupang/core";
import type { CatalogResponse, DraftService, Preset } from "./api-types.js";
import { safeMessage } from "./problems.js";

interface PaletteSource {
  label: string;
  load(project: () => Promise<Project>): Promise<Catalog>;
  /**
   * The --catalog as a source the project plans with, ahead of its own: a
   * preset drawn from the palette plans and exports even when the project's
   * config does not list that catalog (or there is no project). Fetched once
   * and kept until reload(), like the palette.
   */
  planning?: { source: { label: string; load(): Promise<unknown> }; reset(): void };
}

/** The source for a --catalog value; a relative file path is taken from `base` (the shell's directory). */
export function paletteSource(spec: string | undefined, base: string): PaletteSource {
  if (spec === undefined) {
    return {
      label: "the project's catalog sources",
      load: async (project) => (await project()).catalog(),
    };
  }
  const fetched = spec.startsWith("oci://")
    ? catalogSource({ type: "oci", ref: spec.slice("oci://".length) }, base)
    : /^https?:\/\//.test(spec)
      ? catalogSource({ type: "http", url: spec }, base)
      : catalogSource({ type: "file", path: spec }, base);
  let manifest: Promise<unknown> | undefined;
  const source = { label: fetched.label, load: () => (manifest ??= fetched.load()) };
  return {
    label: spec,
    load: () => loadCatalog([source]),
    planning: { source, reset: () => (manifest = undefined) },
  };
}

const portText = (p: unknown) => String(p);

function presetsOf(catalog: Catalog): Preset[] {
  return [...catalog.services.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, { preset, source }]) => {
      const service: DraftService = typeof preset === "string" ? { image: preset } : preset;
      return {
        name,
        service,
        ...(service.image ? { image: service.image } : {}),
        ports: (service.ports ?? []).map(portText),
        source,
      };
    });
}

/** Loads the palette once and keeps the answer (a failure too) until reload(). */
export class Palette {
  private pending: Promise<CatalogResponse> | undefined;

  constructor(
    private readonly source: PaletteSource,
    private readonly project: () => Promise<Project>,
  ) {}

  get label(): string {
    return this.source.label;
  }

  get(): Promise<CatalogResponse> {
    this.pending ??= this.source.load(this.project).then(
      (catalog): CatalogResponse => ({ ok: true, label: this.label, presets: presetsOf(catalog) }),
      (error): CatalogResponse => {
        const hint = (error as { hint?: unknown }).hint;
        return {
          ok: false,
          label: this.label,
          error: safeMessage(error),
          ...(typeof hint === "string" ? { hint } : {}),
        };
      },
    );
    return this.pending;
  }

  reload(): Promise<CatalogResponse> {
    this.pending = undefined;
    this.source.planning?.reset();
    return this.get();
  }

  /** The project to plan a drawing with: the --catalog ahead of its own sources. */
  planWith(project: Project): Project {
    return this.source.planning ? project.withCatalog([this.source.planning.source]) : project;
  }
}
