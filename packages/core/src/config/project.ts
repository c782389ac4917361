/**
 * The load step. A loaded project is the validated config file plus lazy,
 * cached access to environment files and the catalog: every file read and
 * every catalog fetch of a run happens here, each once. Environment files are
 * read only when a command needs them (the closure of what it deploys), so a
 * broken file elsewhere never blocks a deploy. Normalising what was loaded
 * (normalize.ts) is pure.
 */
import { realpathSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { didYouMean } from "../base/did-you-mean.js";
import { errorMessage, KaupangError } from "../base/errors.js";
import { type EventSink, silent } from "../base/events.js";
import { type Catalog, loadCatalog } from "./catalog/catalog.js";
import { fileSource } from "./catalog/file-source.js";
import { httpSource } from "./catalog/http-source.js";
import { ociSource } from "./catalog/oci-source.js";
import type { CatalogSource } from "./catalog/source.js";
import {
  displayPath,
  findConfigFile,
  listEnvironmentFiles,
  loadModuleFile,
  unknownEnvironmentError,
} from "./load.js";
import type { Model } from "./model.js";
import {
  createModel,
  list,
  needsCatalog,
  selectTarget,
  type TargetOptions,
  type WrittenClosure,
  type WrittenEnv,
} from "./normalize.js";
import { ConfigSchema, EnvironmentSchema, isValidName, nameFrom, nameRule } from "./schema.js";
import { fieldError, validate } from "./validate.js";
import type { Config, Solution, ValidEnvironment } from "./written.js";

type SourceConfig = NonNullable<Config["catalog"]>["sources"][number];

/** The CatalogSource for one configured source. */
export function catalogSource(source: SourceConfig, root: string): CatalogSource {
  switch (source.type) {
    case "file":
      return fileSource(root, source.path);
    case "http":
    case "service":
      return httpSource(source.type, source.url, source.headers);
    case "oci":
      return ociSource(source.ref, source.path);
  }
}

/** An `optional: true` source that cannot be reached contributes nothing, with a warning. */
function optionalSource(source: CatalogSource, events: EventSink): CatalogSource {
  return {
    label: source.label,
    async load() {
      try {
        return await source.load();
      } catch (error) {
        events({
          type: "warning",
          message: `optional catalog ${source.label} skipped: ${errorMessage(error)}`,
        });
        return {};
      }
    },
  };
}

export class Project {
  readonly root: string;
  readonly configFile: string;
  readonly config: Config;
  readonly environmentsDir: string;
  private envFiles: Map<string, string> | undefined;
  /** Names found so far whose file is not named after them (`name` key), or that were confirmed. */
  private named = new Map<string, string>();
  /** Every environment's name → file, once all files were read (indexEnvironments). */
  private index: Map<string, string> | undefined;
  private readonly fileCache = new Map<string, Promise<ValidEnvironment>>();
  private readonly suppliedCache = new Map<string, Promise<ValidEnvironment>>();
  private catalogPromise: Promise<Catalog> | undefined;
  /** Environments given in memory (see withEnvironment): name → written object and display file. */
  private supplied = new Map<string, { written: unknown; file: string }>();
  /** The project a withEnvironment copy was made from; its catalog is shared. */
  private base: Project | undefined;
  /** Set by confineTo: environment files must resolve inside this real directory. */
  private confinedTo: string | undefined;
  /** Catalog sources ahead of the configured ones (see withCatalog). */
  private extraSources: readonly CatalogSource[] = [];

  constructor(options: { root: string; configFile: string; config: Config }) {
    this.root = options.root;
    this.configFile = options.configFile;
    this.config = options.config;
    this.environmentsDir = resolve(this.root, this.config.environments);
  }

  /** The error for an environment name with no file (naming a missing folder as such). */
  private unknownEnvironment(name: string, known: readonly string[]): KaupangError {
    return unknownEnvironmentError(name, known, {
      dir: this.environmentsDir,
      displayDir: this.environmentsDisplay,
      configDisplay: displayPath(this.root, this.configFile),
      setting: this.config.environments,
    });
  }

  /** Display form of the environments folder, relative to the root. */
  get environmentsDisplay(): string {
    return relative(this.root, this.environmentsDir) || ".";
  }

  private files(): Map<string, string> {
    this.envFiles ??= listEnvironmentFiles(this.environmentsDir, this.environmentsDisplay);
    return this.envFiles;
  }

  /**
   * Environment names: once indexEnvironments ran, the exact names; before,
   * the file and folder names (what the names are unless a `name` key differs).
   */
  environmentNames(): string[] {
    const names = this.index ? [...this.index.keys()] : [...this.files().keys(), ...this.named.keys()];
    return [...new Set([...names, ...this.supplied.keys()])];
  }

  /** Every environment's exact name (reads every environment file). */
  async allEnvironmentNames(): Promise<string[]> {
    await this.indexEnvironments();
    return this.environmentNames();
  }

  /** Whether `name` is known without reading files (see findEnvironment). */
  hasEnvironment(name: string): boolean {
    if (this.supplied.has(name)) return true;
    if (this.index) return this.index.has(name);
    return this.named.has(name) || this.files().has(name);
  }

  /**
   * Whether an environment is called `name`. Fast path: the file or folder of
   * that name, whose `name` key is absent or the same. Otherwise every file is
   * read once to find the environment whose `name` is `name`.
   */
  async findEnvironment(name: string): Promise<boolean> {
    if (this.supplied.has(name) || this.named.has(name)) return true;
    if (this.index) return this.index.has(name);
    const file = this.files().get(name);
    if (file !== undefined) {
      const env = await this.readFile(file);
      if ((env.name ?? name) === name) {
        this.named.set(name, file);
        return true;
      }
    }
    await this.indexEnvironments();
    return this.index!.has(name);
  }

  /** Read every environment file and index them by name; two environments with one name are an error. */
  async indexEnvironments(): Promise<void> {
    if (this.index) return;
    const entries = [...this.files()];
    const envs = await Promise.all(entries.map(([, file]) => this.readFile(file)));
    const index = new Map<string, string>();
    entries.forEach(([stem, file], i) => {
      const name = envs[i]!.name ?? stem;
      const previous = index.get(name);
      if (previous !== undefined) {
        throw fieldError(
          {
            file: displayPath(this.root, file),
            path: ["name"],
            value: name,
            message: `environment "${name}" is also defined by ${displayPath(this.root, previous)}`,
          },
          { hint: "give each environment its own name" },
        );
      }
      index.set(name, file);
    });
    this.index = new Map([...index].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** Display path of an environment's file, relative to the root. */
  environmentFile(name: string): string {
    const supplied = this.supplied.get(name);
    if (supplied) return supplied.file;
    const file = this.index ? this.index.get(name) : (this.named.get(name) ?? this.files().get(name));
    if (!file) throw this.unknownEnvironment(name, this.environmentNames());
    return displayPath(this.root, file);
  }

  /** The validated environment called `name` (call findEnvironment first when its file may be named otherwise). */
  loadEnvironment(name: string): Promise<ValidEnvironment> {
    const supplied = this.supplied.get(name);
    if (supplied) {
      let pending = this.suppliedCache.get(name);
      if (!pending) {
        pending = this.validateEnvironment(name, supplied.written, supplied.file);
        this.suppliedCache.set(name, pending);
      }
      return pending;
    }
    return this.readFile(resolve(this.root, this.environmentFile(name)));
  }

  /**
   * Read environment files only when their real path is inside `dir`: one
   * that resolves outside (a symlink out) is refused by name, never read.
   * The studio keeps to its --cwd this way.
   */
  confineTo(dir: string): this {
    this.confinedTo = realpathSync(dir);
    return this;
  }

  private readFile(file: string): Promise<ValidEnvironment> {
    let pending = this.fileCache.get(file);
    if (!pending) {
      const display = displayPath(this.root, file);
      if (this.confinedTo !== undefined && !isInsideReal(this.confinedTo, file)) {
        return Promise.reject(
          new KaupangError(
            "ERR_OUTSIDE_ROOT",
            `${display}: resolves outside the project directory ${this.confinedTo}; it is not read`,
          ),
        );
      }
      const stem = [...this.files()].find(([, f]) => f === file)?.[0] ?? display;
      pending = loadModuleFile(file, display).then((raw) => this.validateEnvironment(stem, raw, display));
      this.fileCache.set(file, pending);
    }
    return pending;
  }

  /** Validate a written environment; `stem` is its file's name, its name unless `name` says otherwise. */
  private async validateEnvironment(stem: string, raw: unknown, display: string): Promise<ValidEnvironment> {
    const env = validate(EnvironmentSchema, raw, display);
    const name = env.name ?? stem;
    if (!isValidName(name)) {
      throw fieldError(
        env.name === undefined
          ? {
              file: display,
              path: [],
              subject: "name",
              message: `environment name "${name}" must be ${nameRule}`,
            }
          : { file: display, path: ["name"], value: name, message: `"${name}" must be ${nameRule}` },
        { hint: env.name === undefined ? "rename the file, or set name" : "change name" },
      );
    }
    return env;
  }

  /**
   * Read `names` and every environment they depend on (breadth-first,
   * concurrently, each file once), checking each dependsOn as it goes.
   */
  async loadClosure(names: readonly string[]): Promise<WrittenClosure["environments"]> {
    for (const name of names) {
      if (!(await this.findEnvironment(name))) {
        throw this.unknownEnvironment(name, await this.allEnvironmentNames());
      }
    }
    const written = new Map<string, { file: string; written: ValidEnvironment }>();
    let frontier = [...new Set(names)];
    while (frontier.length > 0) {
      const loaded = await Promise.all(frontier.map((name) => this.loadEnvironment(name)));
      const next: string[] = [];
      for (const [i, name] of frontier.entries()) {
        const env = loaded[i]!;
        const file = this.environmentFile(name);
        written.set(name, { file, written: env });
        for (const dep of list(env.dependsOn)) {
          if (!(await this.findEnvironment(dep))) {
            throw fieldError({
              file,
              path: ["dependsOn"],
              value: dep,
              message: `environment "${dep}" does not exist${didYouMean(dep, await this.allEnvironmentNames())}`,
            });
          }
          if (!written.has(dep) && !next.includes(dep) && !frontier.includes(dep)) next.push(dep);
        }
      }
      frontier = next;
    }
    return written;
  }

  /**
   * A copy of this project in which environment `name` is `written` (what an
   * environment file's default export would be) instead of its file, which
   * need not exist. It is validated like a file, with the same schema and name
   * rule, and errors name `file` (default: the environment's existing file,
   * else `<environments>/<name>.ts`). The copy reads the other environment
   * files anew and shares this project's catalog. Nothing is written.
   */
  withEnvironment(name: string, written: unknown, file?: string): Project {
    const copy = new Project({ root: this.root, configFile: this.configFile, config: this.config });
    copy.supplied = new Map(this.supplied);
    copy.supplied.set(name, {
      written,
      file:
        file ??
        (this.hasEnvironment(name) ? this.environmentFile(name) : `${this.environmentsDisplay}/${name}.ts`),
    });
    copy.base = this.base ?? this;
    copy.confinedTo = this.confinedTo;
    return copy;
  }

  /**
   * A copy of this project whose catalog is `sources` first, then its own
   * configured sources (earlier sources win a preset name): how the studio
   * plans with the catalog it was started with. Nothing is written.
   */
  withCatalog(sources: readonly CatalogSource[]): Project {
    const copy = new Project({ root: this.root, configFile: this.configFile, config: this.config });
    copy.supplied = new Map(this.supplied);
    copy.extraSources = [...sources, ...this.extraSources];
    return copy;
  }

  /** The merged catalog; every source is fetched once per run, concurrently. */
  catalog(events: EventSink = silent): Promise<Catalog> {
    if (this.base) return this.base.catalog(events);
    this.catalogPromise ??= loadCatalog([
      ...this.extraSources,
      ...(this.config.catalog?.sources ?? []).map((source) => {
        const made = catalogSource(source, this.root);
        return "optional" in source && source.optional ? optionalSource(made, events) : made;
      }),
    ]);
    return this.catalogPromise;
  }

  /** Config solutions, joined by catalog solutions (config wins a name clash, with a warning). */
  async solutions(events: EventSink = silent): Promise<Map<string, { solution: Solution; source: string }>> {
    const out = new Map<string, { solution: Solution; source: string }>();
    const own = this.config.solutions ?? {};
    const display = displayPath(this.root, this.configFile);
    for (const [name, solution] of Object.entries(own)) out.set(name, { solution, source: display });
    if ((this.config.catalog?.sources ?? []).length > 0) {
      for (const [name, entry] of (await this.catalog(events)).solutions) {
        if (out.has(name)) {
          events({
            type: "warning",
            message: `solution "${name}" is defined in ${display} and in catalog ${entry.source}; using ${display}`,
          });
        } else out.set(name, { solution: entry.solution as Solution, source: `catalog ${entry.source}` });
      }
    }
    return out;
  }
}

export interface LoadModelOptions extends TargetOptions {
  /** Environments to deploy; their dependencies are pulled in. */
  environments: readonly string[];
  /** Solution env, between target env and service env in precedence. */
  extraEnv?: WrittenEnv | undefined;
  /** `"env.service" → image ref` overrides (solution pins). */
  pins?: Record<string, string> | undefined;
  /** Warnings (optional catalog sources skipped). */
  events?: EventSink | undefined;
}

/**
 * The load step, then normalize: select the target, read the closure of
 * `environments`, fetch the catalog if a service names a preset, and
 * normalise it all into a Model.
 */
export async function loadModel(project: Project, options: LoadModelOptions): Promise<Model> {
  const target = selectTarget(project, options);
  const environments = await project.loadClosure(options.environments);
  const written = [...environments.values()].map((e) => e.written);
  const catalog = needsCatalog(written) ? await project.catalog(options.events) : undefined;
  const closure: WrittenClosure = {
    root: project.root,
    configFile: displayPath(project.root, project.configFile),
    config: project.config,
    environments,
    extraEnv: options.extraEnv,
    pins: options.pins,
  };
  return createModel(closure, catalog, target);
}

/** Whether `file`'s real path (of its nearest existing ancestor, for a file not there) is inside `dir`. */
function isInsideReal(dir: string, file: string): boolean {
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    real = join(realpathSync(dirname(file)), basename(file));
  }
  const rel = relative(dir, real);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/**
 * A project for a directory that has no config (the studio outside a
 * project): named after the directory, environments in ./environments, no
 * targets but local. Its config file does not exist; nothing is written.
 */
export function scratchProject(dir: string): Project {
  const root = resolve(dir);
  const name = nameFrom(basename(root), "studio");
  const config = validate(ConfigSchema, { project: isValidName(name) ? name : "studio" }, "(no config)");
  return new Project({ root, configFile: resolve(root, "kaupang.config.ts"), config });
}

/** Find, read and validate the config in `cwd`. */
export async function loadProject(cwd: string): Promise<Project> {
  const configFile = findConfigFile(cwd);
  const root = dirname(configFile);
  const display = displayPath(root, configFile);
  const raw = await loadModuleFile(configFile, display);
  const config = validate(ConfigSchema, raw, display);
  if (!isValidName(config.project)) {
    throw fieldError({
      file: display,
      path: ["project"],
      value: config.project,
      message: `"${config.project}" must be ${nameRule}`,
    });
  }
  return new Project({ root, configFile, config });
}
