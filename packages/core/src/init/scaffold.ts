/**
 * `kaupang init`: the files of a new project (a config and one environment),
 * and writing a set of project files without ever overwriting one.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { KaupangError } from "../base/errors.js";
import { configNames } from "../config/load.js";
import { isValidName, nameFrom, nameRule } from "../config/schema.js";
import { fileSource, type InitFormat, type SourceValue } from "./source.js";

export interface ProjectFile {
  /** Relative to the project directory. */
  path: string;
  content: string;
}

/** A directory or compose name made into a name kaupang accepts ("My_App" → "my-app"). */
export const projectNameFrom = (text: string): string => nameFrom(text, "app");

export function checkName(kind: string, name: string, flag: string): string {
  if (!isValidName(name)) {
    throw new KaupangError("ERR_USAGE", `${kind} name "${name}" must be ${nameRule}`, {
      hint: `pick another with ${flag}`,
    });
  }
  return name;
}

/** The config file's content for `project`: environments in ./environments, compose locally. */
export function configValue(project: string): SourceValue {
  return {
    project,
    environments: "./environments",
    defaultBackend: "compose",
    targets: { local: {} },
  };
}

export const configFileName = (format: InitFormat) => `kaupang.config.${format}`;
export const environmentFileName = (name: string, format: InitFormat) => `environments/${name}.${format}`;

interface ScaffoldOptions {
  dir: string;
  format: InitFormat;
  project?: string | undefined;
  environment?: string | undefined;
}

/** A config and one environment with one web service. */
export function scaffoldFiles(options: ScaffoldOptions): ProjectFile[] {
  const project = checkName(
    "project",
    options.project ?? projectNameFrom(basename(resolve(options.dir))),
    "--project",
  );
  const environment = checkName("environment", options.environment ?? "app", "--environment");
  const { format } = options;
  return [
    {
      path: configFileName(format),
      content: fileSource(configValue(project), format, "defineConfig"),
    },
    {
      path: environmentFileName(environment, format),
      content: fileSource(
        {
          services: {
            web: { image: "nginx:1.27-alpine", ports: ["8080:80"] },
          },
        },
        format,
        "defineEnvironment",
        format === "json"
          ? undefined
          : [
              "One environment: the services `kaupang up " + environment + "` deploys together.",
              "A service is an image string, or { image, build, ports, env, volumes, healthcheck, dependsOn, … }.",
            ],
      ),
    },
  ];
}

/**
 * Write `files` under `dir`. Refuses, writing nothing, when any of them (or
 * any kaupang.config.* at all) is already there.
 */
export function writeProjectFiles(dir: string, files: readonly ProjectFile[]): void {
  const root = resolve(dir);
  const existing = [
    ...configNames.filter((name) => existsSync(join(root, name))),
    ...files.map((f) => f.path).filter((path) => existsSync(join(root, path))),
  ];
  if (existing.length > 0) {
    const list = [...new Set(existing)];
    throw new KaupangError(
      "ERR_INIT_EXISTS",
      `${root} already has ${list.join(", ")}; kaupang init never overwrites, so nothing was written`,
      { hint: "run it in an empty directory, or move those files away first" },
    );
  }
  for (const file of files) {
    const path = join(root, file.path);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, file.content, { flag: "wx" });
  }
}
