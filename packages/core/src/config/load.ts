/**
 * Finding and reading config files. TypeScript and JavaScript load through
 * jiti, so a user's repo needs no `typescript`, no `tsconfig` and no build
 * step; `@kaupang/core` and `kaupang` imports inside those files resolve to
 * this running tool's own helpers even when the user's repo installed nothing.
 * That code runs in a worker with a deadline (load-worker.ts).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, dirname, extname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { didYouMean } from "../base/did-you-mean.js";
import { isKaupangError, KaupangError, showValue } from "../base/errors.js";
import { importConfigModule } from "./load-worker.js";

const configExtensions = [".ts", ".mts", ".mjs", ".js", ".json"] as const;
export const configNames = configExtensions.map((ext) => `kaupang.config${ext}`);

/**
 * The config file of the project `cwd` is in: `cwd`'s own, else the nearest
 * parent directory's (as git, npm and compose search), or a user error
 * naming where it looked.
 */
export function findConfigFile(cwd: string): string {
  const start = resolve(cwd);
  if (!existsSync(start)) {
    throw new KaupangError("ERR_NO_CONFIG", `directory ${start} does not exist`, { hint: "check --cwd" });
  }
  const found = configFileAbove(start);
  if (found !== undefined) return found;
  throw new KaupangError(
    "ERR_NO_CONFIG",
    `no kaupang.config.{ts,mts,mjs,js,json} in ${start} or any directory above it`,
    { hint: "run kaupang init to start a project here, or pass --cwd <project dir>" },
  );
}

/** The config file in `dir` or the nearest directory above it; undefined when there is none. */
export function configFileAbove(dir: string): string | undefined {
  for (let at = resolve(dir); ; at = dirname(at)) {
    const found = configNames.filter((name) => existsSync(join(at, name)));
    if (found.length > 1) {
      throw new KaupangError(
        "ERR_CONFIG_AMBIGUOUS",
        `${at}: more than one config file (${found.join(", ")})`,
        {
          hint: "keep exactly one kaupang.config.* file",
        },
      );
    }
    if (found.length === 1) return join(at, found[0]!);
    if (dirname(at) === at) return undefined;
  }
}

/** Path of the helper module user configs import; the built file or, from source, the .ts. */
function helpersPath(): string {
  for (const candidate of ["./define.js", "../define.ts", "../define.js"]) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error("kaupang: cannot find its own define helpers next to the loader");
}

function locate(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - before.lastIndexOf("\n");
  return `line ${line}, column ${column}`;
}

/**
 * Read one config-like file (config, environment, catalog) and return its
 * default export. `displayName` is how errors name the file.
 */
export async function loadModuleFile(file: string, displayName: string): Promise<unknown> {
  if (file.endsWith(".json")) {
    const text = readFileSync(file, "utf8");
    try {
      return JSON.parse(text);
    } catch (error) {
      const message = (error as Error).message;
      const position = /position (\d+)/.exec(message);
      const where = position ? ` at ${locate(text, Number(position[1]))}` : "";
      throw new KaupangError(
        "ERR_CONFIG_SYNTAX",
        `${displayName}: invalid JSON${where}: ${message.split(" in JSON")[0]}`,
        {
          cause: error,
        },
      );
    }
  }
  const helpers = helpersPath();
  let namespace: { default?: unknown };
  try {
    namespace = await importConfigModule(file, displayName, {
      base: import.meta.url,
      // "@kaupang/core/define" is the package's own subpath for the helpers (package.json exports).
      alias: {
        "@kaupang/core/define": helpers,
        "@kaupang/core": helpers,
        "@kaupang/cli": helpers,
        kaupang: helpers,
      },
    });
  } catch (error) {
    if (isKaupangError(error)) throw error;
    throw loadError(error, file, displayName);
  }
  const hint = "export default defineConfig({ … }) / defineEnvironment({ … })";
  if (!("default" in namespace)) {
    throw new KaupangError("ERR_CONFIG_INVALID", `${displayName}: has no default export`, { hint });
  }
  const value = namespace.default;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const what = value === null ? "null" : Array.isArray(value) ? "an array" : showValue(value);
    throw new KaupangError(
      "ERR_CONFIG_INVALID",
      `${displayName}: the default export is ${what}; it must be an object`,
      { hint },
    );
  }
  return value;
}

/**
 * Where in the user's files an error was thrown: the first stack frame in a
 * file under the config root (not in node_modules), as "file:line".
 */
function userFrame(error: unknown, file: string, displayName: string): string | undefined {
  const stack = (error as Error | undefined)?.stack;
  if (typeof stack !== "string") return undefined;
  const root = file.endsWith(displayName) ? file.slice(0, file.length - displayName.length) : dirname(file);
  for (const match of stack.matchAll(/(?:\(|at )(?:file:\/\/)?(\/[^():\s]+):(\d+):(\d+)\)?/g)) {
    const path = match[1]!;
    if (path.includes("/node_modules/") || !path.startsWith(root)) continue;
    // The line only: TypeScript is transpiled (types dropped) with its lines kept, not its columns.
    return `${relative(root, path) || path}:${match[2]}`;
  }
  return undefined;
}

function loadError(error: unknown, file: string, displayName: string): KaupangError {
  const err = error as Error & { code?: string };
  const message = String(err?.message ?? error);
  // jiti reports parse errors as "ParseError: <what>  \n <file>:<line>:<column>".
  const parse = /^(?:ParseError|SyntaxError): ([^\n]*?)\s*(?:\n\s*\S*?:(\d+):(\d+))?\s*$/.exec(message);
  if (parse || err?.name === "SyntaxError") {
    const what = (parse?.[1] ?? message.split("\n")[0]!).trim();
    const where = parse?.[2] ? ` at line ${parse[2]}, column ${parse[3]}` : "";
    return new KaupangError("ERR_CONFIG_SYNTAX", `${displayName}: syntax error${where}: ${what}`, {
      cause: error,
    });
  }
  const firstLine = message.split("\n")[0]!;
  if (err?.code === "ERR_MODULE_NOT_FOUND" || err?.code === "MODULE_NOT_FOUND") {
    return new KaupangError("ERR_CONFIG_LOAD", `${displayName}: ${firstLine}`, { cause: error });
  }
  // A runtime error while the file ran: name the line that threw, as a compiler would.
  const frame = userFrame(error, file, displayName);
  const what = `${err instanceof Error ? err.name : "thrown"}: ${firstLine}`;
  if (frame === undefined) {
    return new KaupangError("ERR_CONFIG_LOAD", `${displayName}: failed to load: ${what}`, { cause: error });
  }
  const loading = frame.startsWith(`${displayName}:`) ? "" : ` (loading ${displayName})`;
  return new KaupangError("ERR_CONFIG_LOAD", `${frame}: ${what}${loading}`, { cause: error });
}

/**
 * `name → absolute file` for every environment in `dir`: a file
 * (`api.ts`) or a folder with an index file (`api/index.ts`). The name is the
 * file's or folder's; an environment's `name` key can give it another (see
 * Project). A folder without an index file is not an environment (shared code).
 */
export function listEnvironmentFiles(dir: string, displayDir: string): Map<string, string> {
  const files = new Map<string, string>();
  if (!existsSync(dir)) return files;
  const add = (name: string, file: string, shown: string) => {
    const previous = files.get(name);
    if (previous) {
      throw new KaupangError(
        "ERR_CONFIG_AMBIGUOUS",
        `${displayDir}: environment "${name}" is defined twice (${relative(dir, previous)} and ${shown})`,
        { hint: "keep one of them" },
      );
    }
    files.set(name, file);
  };
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    if (entry.isDirectory()) {
      const indexes = configExtensions
        .map((ext) => `index${ext}`)
        .filter((f) => existsSync(join(dir, entry.name, f)));
      if (indexes.length > 1) {
        throw new KaupangError(
          "ERR_CONFIG_AMBIGUOUS",
          `${displayDir}/${entry.name}: more than one index file (${indexes.join(", ")})`,
          { hint: "keep exactly one index.* file in an environment folder" },
        );
      }
      if (indexes.length === 1)
        add(entry.name, join(dir, entry.name, indexes[0]!), `${entry.name}/${indexes[0]}`);
      continue;
    }
    const ext = extname(entry.name);
    if (!(configExtensions as readonly string[]).includes(ext) || entry.name.endsWith(".d.ts")) continue;
    add(basename(entry.name, ext), join(dir, entry.name), entry.name);
  }
  return files;
}

export function unknownEnvironmentError(
  name: string,
  known: readonly string[],
  where: { dir: string; displayDir: string; configDisplay: string; setting: string },
): KaupangError {
  if (!existsSync(where.dir)) {
    return new KaupangError(
      "ERR_UNKNOWN_ENVIRONMENT",
      `unknown environment "${name}": the environments folder ${where.displayDir}/ does not exist (${where.configDisplay}: environments is ${JSON.stringify(where.setting)})`,
      {
        hint: `create ${where.displayDir}/${name}.ts (kaupang init writes a first one), or point environments at your folder`,
      },
    );
  }
  const list =
    known.length > 0
      ? `; environments: ${known.join(", ")}`
      : ` (no environment files in ${where.displayDir}/)`;
  return new KaupangError(
    "ERR_UNKNOWN_ENVIRONMENT",
    `unknown environment "${name}"${didYouMean(name, known)}${list}`,
  );
}

export function displayPath(root: string, file: string): string {
  const rel = relative(root, file);
  return rel.startsWith("..") ? file : rel;
}
