/**
 * What each API route does, as functions of a request body. Every check and
 * every plan goes through @kaupang/core: the drawn environment is handed to
 * the project in memory (Project.withEnvironment) and planned exactly as
 * `kaupang up <name> --dry-run` would plan its file.
 */
import { randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from "node:path";
import {
  configNames,
  createPlan,
  isKaupangError,
  loadModel,
  loadProject,
  type Plan,
  type Project,
  scratchProject,
} from "@kaupang/core";
import type {
  CatalogResponse,
  DraftEnvironment,
  ExportFormat,
  ExportRequest,
  ExportResponse,
  ImportRequest,
  ImportResponse,
  PlanRequest,
  PlanResponse,
  SaveRequest,
  SaveResponse,
  SessionResponse,
} from "./api-types.js";
import { Palette, paletteSource } from "./catalog.js";
import { problemsOf, safeMessage, withoutValues } from "./problems.js";
import { exportEnvironment } from "./serialize.js";

const environmentExtensions = [".ts", ".mts", ".mjs", ".js", ".json"];

/** A request the API cannot take (bad body, path outside --cwd): answered 400 with the message. */
export class BadRequest extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

interface HandlerOptions {
  /** The project directory (--cwd); every file read or written is under it. */
  cwd: string;
  /** The palette's catalog (--catalog); a relative file path is taken from process.cwd(). */
  catalog?: string | undefined;
  /** How the plan is shown as text (the CLI passes its --dry-run formatter). */
  formatPlan?: ((plan: Plan) => string) | undefined;
}

/** The project, loaded again only when its config file or environments folder changed. */
class Projects {
  private key: string | undefined;
  private loaded: Promise<Project> | undefined;

  constructor(private readonly cwd: string) {}

  private stamp(dir?: string): string {
    const parts = [...configNames.map((n) => join(this.cwd, n)), ...(dir ? [dir] : [])].map((file) => {
      try {
        const s = statSync(file);
        return `${s.mtimeMs}:${s.size}`;
      } catch {
        return "-";
      }
    });
    return parts.join("|");
  }

  /** True when the directory has no config, and get() answers with a scratch project. */
  scratch = false;

  async get(): Promise<Project> {
    if (this.loaded && this.key !== undefined) {
      const project = await this.loaded.catch(() => undefined);
      if (project && this.key === this.stamp(project.environmentsDir)) return project;
      if (!project && this.key === this.stamp()) return this.loaded;
    }
    // No config here or above: a scratch project (named after the directory) still plans and exports.
    // A config file here that resolves outside --cwd (a symlink out) is never read.
    this.loaded = confinedConfig(this.cwd)
      .then(() => loadProject(this.cwd))
      .then(
        (project) => {
          this.scratch = false;
          return project;
        },
        (error) => {
          if (!isKaupangError(error) || error.code !== "ERR_NO_CONFIG") throw error;
          this.scratch = true;
          return scratchProject(this.cwd);
        },
      );
    this.loaded.then(
      (p) => {
        this.key = this.stamp(p.environmentsDir);
      },
      () => {
        this.key = this.stamp();
      },
    );
    await this.loaded.catch(() => undefined);
    return this.loaded;
  }

  reset(): void {
    this.loaded = undefined;
    this.key = undefined;
  }
}

/** A config file that resolves outside --cwd (a symlink out) is refused, never read. */
async function confinedConfig(cwd: string): Promise<void> {
  for (const name of configNames) {
    const path = join(cwd, name);
    if (existsSync(path) && !isInside(cwd, realpathSync(path)))
      throw new BadRequest(`${name} resolves outside --cwd; it is not read`, 403);
  }
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/** The nearest existing ancestor's real path, joined with the rest: where `path` really lands. */
function realTarget(path: string): string {
  let dir = path;
  const rest: string[] = [];
  while (!existsSync(dir)) {
    rest.unshift(basename(dir));
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return join(realpathSync(dir), ...rest);
}

function str(body: unknown, key: string): string {
  const value = (body as Record<string, unknown> | null)?.[key];
  if (typeof value !== "string") throw new BadRequest(`"${key}" must be a string`);
  return value;
}

function draftOf(body: unknown): DraftEnvironment {
  const value = (body as Record<string, unknown> | null)?.environment;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new BadRequest('"environment" must be an object');
  }
  return value as DraftEnvironment;
}

function formatOf(body: unknown): ExportFormat {
  const value = (body as Record<string, unknown> | null)?.format;
  if (value !== "ts" && value !== "json") throw new BadRequest('"format" must be "ts" or "json"');
  return value;
}

export function createHandlers(options: HandlerOptions) {
  const cwd = realpathSync(resolve(options.cwd));
  const projects = new Projects(cwd);
  const palette = new Palette(paletteSource(options.catalog, process.cwd()), () => projects.get());

  /** The real directory of the environments folder, refused when it leaves --cwd. */
  const environmentsDir = (project: Project): string => {
    const dir = realTarget(project.environmentsDir);
    if (!isInside(cwd, dir)) {
      throw new BadRequest(`the environments folder ${project.environmentsDisplay} is outside --cwd`, 403);
    }
    return dir;
  };

  async function planDraft(name: string, environment: DraftEnvironment, target: string) {
    let file = `environments/${name}.ts`;
    try {
      const project = await projects.get();
      environmentsDir(project);
      // Environment files that resolve outside --cwd (symlinks out) are refused, never read.
      const drawn = palette.planWith(project).withEnvironment(name, environment).confineTo(cwd);
      file = drawn.environmentFile(name);
      const model = await loadModel(drawn, { environments: [name], target });
      return { project, file, plan: createPlan(model) };
    } catch (error) {
      if (error instanceof BadRequest) {
        return { file, problems: [{ message: error.message, scope: "project" as const, path: [] }] };
      }
      if (!isKaupangError(error)) console.error(error);
      return { file, ...problemsOf(error, file) };
    }
  }

  /** The file's content, only for an environment the core plans without a problem for the target. */
  async function exportDraft(body: unknown): Promise<ExportResponse> {
    const request: ExportRequest = {
      name: str(body, "name"),
      environment: draftOf(body),
      format: formatOf(body),
    };
    const target = (body as { target?: unknown }).target;
    const result = await planDraft(
      request.name,
      request.environment,
      typeof target === "string" ? target : "local",
    );
    if (!("plan" in result) || !result.plan) {
      return { ok: false, problems: result.problems ?? [], ...(result.cycle ? { cycle: result.cycle } : {}) };
    }
    return {
      ok: true,
      file: `${result.project.environmentsDisplay}/${request.name}.${request.format}`,
      content: exportEnvironment(request.environment, request.format),
    };
  }

  return {
    async session(): Promise<SessionResponse> {
      const out: SessionResponse = { cwd: basename(cwd), catalogLabel: palette.label };
      try {
        const project = await projects.get();
        if (projects.scratch) {
          out.projectError = `no kaupang.config.* in ${basename(cwd)} or above: drawings plan and export as project "${project.config.project}"; saving needs a project (kaupang init)`;
          return out;
        }
        const environments = project.environmentNames().map((name) => ({
          name,
          file: project.environmentFile(name),
        }));
        const targets = [...new Set(["local", ...Object.keys(project.config.targets ?? {})])];
        const wanted = process.env.KAUPANG_TARGET;
        out.project = {
          name: project.config.project,
          environmentsDir: project.environmentsDisplay,
          environments,
          targets,
          defaultTarget: wanted && targets.includes(wanted) ? wanted : "local",
        };
      } catch (error) {
        out.projectError = safeMessage(error);
      }
      return out;
    },

    catalog(): Promise<CatalogResponse> {
      return palette.get();
    },

    reloadCatalog(): Promise<CatalogResponse> {
      projects.reset();
      return palette.reload();
    },

    /** Validate and plan the drawn environment for a target: problems, or the artifact and the dry-run text. */
    async plan(body: unknown): Promise<PlanResponse> {
      const request: PlanRequest = {
        name: str(body, "name"),
        environment: draftOf(body),
        target: str(body, "target"),
      };
      const result = await planDraft(request.name, request.environment, request.target);
      if (!("plan" in result) || !result.plan) {
        return {
          ok: false,
          file: result.file,
          problems: result.problems ?? [],
          ...(result.cycle ? { cycle: result.cycle } : {}),
        };
      }
      const plan = result.plan;
      const own = plan.environments.find((e) => e.environment === request.name)!;
      return {
        ok: true,
        problems: [],
        file: result.file,
        plan: {
          target: plan.target,
          backend: plan.backend,
          environmentOrder: plan.environmentOrder,
          waves: own.waves,
          secrets: own.secrets,
          artifact: own.artifact,
          text: options.formatPlan ? options.formatPlan(plan) : JSON.stringify(plan.environmentWaves),
        },
      };
    },

    export: exportDraft,

    /** Write environments/<name>.<ext>; an existing file of that environment is replaced only when `overwrite`. */
    async save(body: unknown): Promise<SaveResponse> {
      const exported = await exportDraft(body);
      if (!exported.ok) return exported;
      const request = body as SaveRequest;
      const project = await projects.get();
      if (projects.scratch) {
        throw new BadRequest(
          "there is no kaupang project here to save into: run kaupang init first, or use Export",
          409,
        );
      }
      const dir = environmentsDir(project);
      const target = join(dir, `${request.name}.${request.format}`);
      if (!isInside(dir, target) || dirname(target) !== dir)
        throw new BadRequest("the file would leave the environments folder", 403);
      const display = (path: string) => `${project.environmentsDisplay}/${basename(path)}`;
      const existing = environmentExtensions
        .map((ext) => join(dir, `${request.name}${ext}`))
        .filter((path) => existsSync(path));
      if (existing.length > 0 && request.overwrite !== true) {
        const names = existing.map(display).join(", ");
        return { ok: false, exists: names, message: `${names} exists; confirm to replace it` };
      }
      mkdirSync(dir, { recursive: true });
      // A random name, created exclusively (O_EXCL, no symlink followed): nothing planted there is written through.
      const temporary = join(dir, `.${request.name}.${randomBytes(12).toString("hex")}.studio-tmp`);
      writeFileSync(temporary, exported.content, { flag: "wx", mode: 0o644 });
      try {
        renameSync(temporary, target);
      } catch (error) {
        rmSync(temporary, { force: true });
        throw error;
      }
      const others = existing.filter((path) => path !== target);
      for (const path of others) rmSync(path);
      projects.reset();
      return {
        ok: true,
        file: display(target),
        ...(others.length > 0 ? { replaced: others.map(display).join(", ") } : {}),
      };
    },

    /** Read an environment file of the project as a drawing; errors name the file and field, never its text. */
    async import(body: unknown): Promise<ImportResponse> {
      const request: ImportRequest = { name: str(body, "name") };
      const project = await loadProject(cwd);
      if (!project.hasEnvironment(request.name)) {
        return { ok: false, error: `no environment "${request.name}" in ${project.environmentsDisplay}` };
      }
      const file = project.environmentFile(request.name);
      const path = realTarget(resolve(project.root, file));
      if (!isInside(cwd, path)) throw new BadRequest(`${file} is outside --cwd`, 403);
      let environment: DraftEnvironment;
      try {
        environment = (await project.loadEnvironment(request.name)) as DraftEnvironment;
      } catch (error) {
        return { ok: false, error: withoutValues(safeMessage(error)) };
      }
      const format: ExportFormat = extname(file) === ".json" ? "json" : "ts";
      const roundTrips =
        extname(file) === `.${format}` &&
        exportEnvironment(environment, format) === readFileSync(path, "utf8");
      return { ok: true, name: request.name, environment, file, format, roundTrips };
    },
  };
}

export type Handlers = ReturnType<typeof createHandlers>;
