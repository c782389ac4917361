/**
 * `kaupang init`: a new project, either a starting point (a config and one
 * environment) or converted from compose files. Writes nothing over an
 * existing file.
 */
import { existsSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { type Conversion, convertCompose, type ReportLine } from "./compose.js";
import { readCompose } from "./compose-read.js";
import {
  checkName,
  configFileName,
  environmentFileName,
  type ProjectFile,
  scaffoldFiles,
  writeProjectFiles,
} from "./scaffold.js";
import { fileSource, type InitFormat } from "./source.js";

export interface InitOptions {
  /** Directory the project is written to; default process.cwd(). */
  cwd?: string | undefined;
  format?: InitFormat | undefined;
  project?: string | undefined;
  /** Name of the (main) environment; default "app". */
  environment?: string | undefined;
  /** Compose files to convert, relative to the current directory, merged in order. */
  from?: readonly string[] | undefined;
  /** `${VAR}` env values to turn into secret("VAR"): all, or these names. */
  secrets?: "all" | readonly string[] | undefined;
  /** Compute the files but write nothing. */
  dryRun?: boolean | undefined;
  /** Environment for `docker compose config` (default process.env). */
  env?: Record<string, string | undefined> | undefined;
}

export interface InitResult {
  /** Absolute project directory. */
  dir: string;
  files: ProjectFile[];
  /** Environment names, main first. */
  environments: string[];
  /** Set when converting compose files; `reportText` is the report as printed (reportLines). */
  conversion?: Conversion & { sources: string[]; reportText: string[] };
  written: boolean;
}

export async function init(options: InitOptions = {}): Promise<InitResult> {
  const dir = resolve(options.cwd ?? process.cwd());
  const format = options.format ?? "ts";
  if (options.environment !== undefined) checkName("environment", options.environment, "--environment");
  if (options.project !== undefined) checkName("project", options.project, "--project");
  let files: ProjectFile[];
  let environments: string[];
  let conversion: InitResult["conversion"];
  if (options.from && options.from.length > 0) {
    const read = await readCompose(options.from, process.cwd(), options.env);
    const converted = convertCompose({
      resolved: read.resolved,
      raw: read.raw,
      outDir: dir,
      format,
      secrets: options.secrets,
      project: options.project,
      environment: options.environment,
    });
    const sources = options.from.map((f) => relative(process.cwd(), resolve(f)) || f);
    if (existsSync(join(read.projectDir, ".env")) && JSON.stringify(read.raw).includes("${")) {
      converted.report.push({
        kind: "changed",
        path: ".env",
        message:
          "compose reads .env for ${…} values, kaupang reads the process environment: export them (or use the target's env)",
      });
    }
    checkName("project", converted.project, "--project");
    const header = [`Converted from ${sources.join(" + ")} by \`kaupang init --from\`.`];
    files = [
      { path: configFileName(format), content: fileSource(converted.config, format, "defineConfig") },
      ...converted.environments.map((env) => ({
        path: environmentFileName(env.name, format),
        content: fileSource(
          env.value,
          format,
          "defineEnvironment",
          format === "json"
            ? undefined
            : env.profile !== undefined
              ? [...header, `The services of compose profile "${env.profile}".`]
              : header,
        ),
      })),
    ];
    environments = converted.environments.map((e) => e.name);
    conversion = { ...converted, sources, reportText: reportLines(converted.report) };
  } else {
    files = scaffoldFiles({ dir, format, project: options.project, environment: options.environment });
    environments = [options.environment ?? "app"];
  }
  if (!options.dryRun) writeProjectFiles(dir, files);
  return { dir, files, environments, ...(conversion ? { conversion } : {}), written: !options.dryRun };
}

const headings: Record<ReportLine["kind"], string> = {
  "not-converted": "Not converted",
  changed: "Converted with a difference",
  "compose-only": "Kept for compose and swarm only (in the service's compose: escape hatch)",
};

/** The conversion report as text lines, grouped by kind. */
function reportLines(report: readonly ReportLine[]): string[] {
  const lines: string[] = [];
  for (const kind of ["not-converted", "changed", "compose-only"] as const) {
    const items = report.filter((r) => r.kind === kind);
    if (items.length === 0) continue;
    lines.push(`${headings[kind]} (${items.length}):`);
    for (const item of items) lines.push(`  ${item.path}: ${item.message}`);
  }
  return lines;
}
