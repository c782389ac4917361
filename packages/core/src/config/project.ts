/**
 * A loaded project: the validated config file plus lazy, cached access to
 * environment files and the catalog. Environment files are read only when a
 * command needs them, so a broken file elsewhere never blocks a deploy.
 */
import { dirname, relative, resolve } from "node:path";
import type { z } from "zod";
import { type Catalog, loadCatalog } from "../catalog/catalog.js";
import { fileSource } from "../catalog/file-source.js";
import type { CatalogSource } from "../catalog/source.js";
import { KaupangError } from "../errors.js";
import {
  displayPath,
  findConfigFile,
  listEnvironmentFiles,
  loadModuleFile,
  unknownEnvironmentError,
} from "./load.js";
import { ConfigSchema, EnvironmentSchema } from "./schema.js";
import { fieldError, validate } from "./validate.js";

export type Config = z.output<typeof ConfigSchema>;
export type ValidEnvironment = z.output<typeof EnvironmentSchema>;

const namePattern = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const nameRule =
  'lowercase letters, digits and "-" (at most 63, starting and ending with a letter or digit)';

export function isValidName(name: string): boolean {
  return namePattern.test(name);
}

/** Extra catalog source kinds (http, service, oci) plug in here; `file` is built in. */
export type CatalogSourceFactory = (
  source: NonNullable<Config["catalog"]>["sources"][number],
  root: string,
) => CatalogSource | undefined;

export class Project {
  readonly root: string;
  readonly configFile: string;
  readonly config: Config;
  readonly environmentsDir: string;
  private envFiles: Map<string, string> | undefined;
  private readonly envCache = new Map<string, Promise<ValidEnvironment>>();
  private catalogPromise: Promise<Catalog> | undefined;
  private readonly sourceFactories: CatalogSourceFactory[];

  constructor(options: {
    root: string;
    configFile: string;
    config: Config;
    sourceFactories?: CatalogSourceFactory[];
  }) {
    this.root = options.root;
    this.configFile = options.configFile;
    this.config = options.config;
    this.environmentsDir = resolve(this.root, this.config.environments);
    this.sourceFactories = options.sourceFactories ?? [];
  }

  /** Display form of the environments folder, relative to the root. */
  get environmentsDisplay(): string {
    return relative(this.root, this.environmentsDir) || ".";
  }

  environmentNames(): string[] {
    this.envFiles ??= listEnvironmentFiles(this.environmentsDir, this.environmentsDisplay);
    return [...this.envFiles.keys()];
  }

  hasEnvironment(name: string): boolean {
    this.environmentNames();
    return this.envFiles!.has(name);
  }

  /** Display path of an environment's file, relative to the root. */
  environmentFile(name: string): string {
    this.environmentNames();
    const file = this.envFiles!.get(name);
    if (!file) throw unknownEnvironmentError(name, this.environmentNames(), this.environmentsDisplay);
    return displayPath(this.root, file);
  }

  loadEnvironment(name: string): Promise<ValidEnvironment> {
    let pending = this.envCache.get(name);
    if (!pending) {
      pending = this.readEnvironment(name);
      this.envCache.set(name, pending);
    }
    return pending;
  }

  private async readEnvironment(name: string): Promise<ValidEnvironment> {
    const display = this.environmentFile(name);
    if (!isValidName(name)) {
      throw new KaupangError(
        "ERR_CONFIG_INVALID",
        `${display}: environment name "${name}" must be ${nameRule}`,
        {
          hint: "rename the file",
        },
      );
    }
    const raw = await loadModuleFile(resolve(this.root, display), display);
    return validate(EnvironmentSchema, raw, display);
  }

  /** The merged catalog; fetched once per run. */
  catalog(): Promise<Catalog> {
    this.catalogPromise ??= loadCatalog(
      (this.config.catalog?.sources ?? []).map((source, index) => {
        for (const factory of this.sourceFactories) {
          const made = factory(source, this.root);
          if (made) return made;
        }
        if (source.type === "file") return fileSource(this.root, source.path);
        throw fieldError(
          displayPath(this.root, this.configFile),
          ["catalog", "sources", index, "type"],
          `catalog source type "${source.type}" is not available in this build`,
        );
      }),
    );
    return this.catalogPromise;
  }
}

/** Find, read and validate the config in `cwd`. */
export async function loadProject(
  cwd: string,
  options: { sourceFactories?: CatalogSourceFactory[] } = {},
): Promise<Project> {
  const configFile = findConfigFile(cwd);
  const root = dirname(configFile);
  const display = displayPath(root, configFile);
  const raw = await loadModuleFile(configFile, display);
  const config = validate(ConfigSchema, raw, display);
  if (!isValidName(config.project)) {
    throw fieldError(display, ["project"], `"${config.project}" must be ${nameRule}`);
  }
  return new Project({ root, configFile, config, ...options });
}
