/**
 * Finding and reading config files. TypeScript and JavaScript load through
 * jiti, so a user's repo needs no `typescript`, no `tsconfig` and no build
 * step; `@kaupang/core` and `kaupang` imports inside those files resolve to
 * this running tool's own helpers even when the user's repo installed nothing.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, extname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Jiti } from "jiti";
import { didYouMean } from "../base/did-you-mean.js";
import { KaupangError } from "../base/errors.js";

const configExtensions = [".ts", ".mts", ".mjs", ".js", ".json"] as const;
export const configNames = configExtensions.map((ext) => `kaupang.config${ext}`);

/** The config file in `cwd`, or a user error naming the directory. */
export function findConfigFile(cwd: string): string {
  const dir = resolve(cwd);
  if (!existsSync(dir)) {
    throw new KaupangError("ERR_NO_CONFIG", `directory ${dir} does not exist`, { hint: "check --cwd" });
  }
  const found = configNames.filter((name) => existsSync(join(dir, name)));
  if (found.length > 1) {
    throw new KaupangError(
      "ERR_CONFIG_AMBIGUOUS",
      `${dir}: more than one config file (${found.join(", ")})`,
      {
        hint: "keep exactly one kaupang.config.* file",
      },
    );
  }
  if (found.length === 0) {
    throw new KaupangError("ERR_NO_CONFIG", `no kaupang.config.{ts,mts,mjs,js,json} in ${dir}`, {
      hint: "run kaupang from your project root, or pass --cwd <dir>",
    });
  }
  return join(dir, found[0]!);
}

/** Path of the helper module user configs import; the built file or, from source, the .ts. */
function helpersPath(): string {
  for (const candidate of ["./define.js", "../define.ts", "../define.js"]) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error("kaupang: cannot find its own define helpers next to the loader");
}

let jiti: Jiti | undefined;
async function getJiti(): Promise<Jiti> {
  if (!jiti) {
    const { createJiti } = await import("jiti");
    const helpers = helpersPath();
    jiti = createJiti(import.meta.url, {
      alias: { "@kaupang/core": helpers, "@kaupang/cli": helpers, kaupang: helpers },
      interopDefault: true,
      moduleCache: false,
    });
  }
  return jiti;
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
  const loader = await getJiti();
  let mod: unknown;
  try {
    mod = await loader.import(file);
  } catch (error) {
    throw loadError(error, displayName);
  }
  const value = (mod as { default?: unknown } | undefined)?.default ?? mod;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new KaupangError("ERR_CONFIG_INVALID", `${displayName}: the default export must be an object`, {
      hint: "export default defineConfig({ … }) / defineEnvironment({ … })",
    });
  }
  return value;
}

function loadError(error: unknown, displayName: string): KaupangError {
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
  return new KaupangError(
    "ERR_CONFIG_LOAD",
    `${displayName}: failed to load: ${err?.name ?? "Error"}: ${firstLine}`,
    {
      cause: error,
    },
  );
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
  displayDir: string,
): KaupangError {
  const list =
    known.length > 0 ? `; environments: ${known.join(", ")}` : ` (no environment files in ${displayDir})`;
  return new KaupangError(
    "ERR_UNKNOWN_ENVIRONMENT",
    `unknown environment "${name}"${didYouMean(name, known)}${list}`,
  );
}

export function displayPath(root: string, file: string): string {
  const rel = relative(root, file);
  return rel.startsWith("..") ? file : rel;
}
