/**
 * An environment as a file: TypeScript with `use()` / `secret()`, or JSON with
 * `$catalog` / `$secret` tags. The output is a function of the data only (keys
 * in one canonical order, maps and dependsOn lists sorted), so the same
 * drawing always gives the same bytes, and a file the studio wrote reads back
 * and exports again byte for byte.
 */
import type { DraftEnvironment, ExportFormat } from "./api-types.js";

const header = "// Written by kaupang studio.";

/** Key order of an environment and of a service: the order of the config schema. */
const environmentKeys = ["$schema", "dependsOn", "env", "services", "hooks"];
const serviceKeys = [
  "$catalog",
  "image",
  "build",
  "ports",
  "env",
  "command",
  "entrypoint",
  "workingDir",
  "volumes",
  "healthcheck",
  "restart",
  "runOnce",
  "replicas",
  "labels",
  "pull",
  "dependsOn",
  "resources",
  "compose",
  "kubernetes",
];
const healthcheckKeys = ["test", "interval", "timeout", "retries", "startPeriod"];
const buildKeys = ["context", "dockerfile", "args", "target"];
const hookKeys = ["beforeUp", "afterUp", "beforeDown", "afterDown"];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Keys in `order` first, then any others sorted; undefined values dropped. */
function ordered(value: Obj, order: readonly string[], each: (key: string, v: Json) => Json = (_k, v) => v) {
  const keys = [
    ...order.filter((k) => k in value),
    ...Object.keys(value)
      .filter((k) => !order.includes(k))
      .sort(byCodePoint),
  ];
  const out: Obj = {};
  for (const key of keys) {
    if (value[key] === undefined) continue;
    out[key] = each(key, value[key]!);
  }
  return out;
}

/** A map with its keys sorted, recursively for plain data. */
function sortedDeep(value: Json): Json {
  if (Array.isArray(value)) return value.map(sortedDeep);
  if (!isObject(value)) return value;
  return ordered(value, [], (_k, v) => sortedDeep(v));
}

function dependsOnList(value: Json): Json {
  const list = Array.isArray(value) ? value : [value];
  return [...new Set(list.map(String))].sort(byCodePoint);
}

function canonicalService(entry: Json): Json {
  const service: Obj = typeof entry === "string" ? { image: entry } : isObject(entry) ? entry : {};
  return ordered(service, serviceKeys, (key, v) => {
    if (key === "dependsOn") return dependsOnList(v);
    if (key === "healthcheck" && isObject(v)) return ordered(v, healthcheckKeys);
    if (key === "build" && isObject(v))
      return ordered(v, buildKeys, (k, x) => (k === "args" ? sortedDeep(x) : x));
    if (key === "ports" || key === "command" || key === "entrypoint" || key === "volumes") return v;
    return sortedDeep(v);
  });
}

/** The environment in canonical form: what both formats print. */
export function canonicalEnvironment(environment: DraftEnvironment): Obj {
  const env = JSON.parse(JSON.stringify(environment)) as Obj;
  return ordered(env, environmentKeys, (key, v) => {
    if (key === "dependsOn") return dependsOnList(v);
    if (key === "services" && isObject(v)) return ordered(v, [], (_k, s) => canonicalService(s));
    if (key === "hooks" && isObject(v)) return ordered(v, hookKeys);
    return sortedDeep(v);
  });
}

export function exportEnvironment(environment: DraftEnvironment, format: ExportFormat): string {
  const canonical = canonicalEnvironment(environment);
  return format === "json" ? `${JSON.stringify(canonical, null, 2)}\n` : toTypeScript(canonical);
}

// ── TypeScript ───────────────────────────────────────────────────────────────

const width = 110;
const identifier = /^[A-Za-z_$][\w$]*$/;
const key = (k: string) => (identifier.test(k) ? k : JSON.stringify(k));

interface Printed {
  text: string;
  multiline: boolean;
}

/** Data printed as a TypeScript expression; `special` prints a helper call instead of a value. */
type Special = (value: Json, path: readonly string[]) => string | undefined;

function print(
  value: Json,
  indent: string,
  column: number,
  path: readonly string[],
  special: Special,
): string {
  const call = special(value, path);
  if (call !== undefined) return call;
  if (!Array.isArray(value) && !isObject(value)) return JSON.stringify(value);
  const inner = `${indent}  `;
  const entries: [string, Json][] = Array.isArray(value)
    ? value.map((v, i) => [String(i), v])
    : Object.entries(value);
  if (entries.length === 0) return Array.isArray(value) ? "[]" : "{}";
  const item = ([k, v]: [string, Json], col: number): Printed => {
    const prefix = Array.isArray(value) ? "" : `${key(k)}: `;
    const text = prefix + print(v, inner, col + prefix.length, [...path, k], special);
    return { text, multiline: text.includes("\n") };
  };
  // One line when it fits and nothing inside needed several.
  const flat = entries.map((e) => item(e, 0));
  const [open, close] = Array.isArray(value) ? ["[", "]"] : ["{ ", " }"];
  const one = `${open}${flat.map((p) => p.text).join(", ")}${close}`;
  if (!flat.some((p) => p.multiline) && column + one.length <= width) return one;
  const lines = entries.map((e) => `${inner}${item(e, inner.length).text},`);
  return `${Array.isArray(value) ? "[" : "{"}\n${lines.join("\n")}\n${indent}${Array.isArray(value) ? "]" : "}"}`;
}

const isSecret = (v: Json): v is { $secret: string } =>
  isObject(v) && Object.keys(v).length === 1 && typeof v.$secret === "string";

function toTypeScript(environment: Obj): string {
  const used = new Set<string>(["defineEnvironment"]);
  const special: Special = (value, path) => {
    // An env value (environment env or a service's env) that is a secret reference.
    const inEnv =
      (path.length === 2 && path[0] === "env") ||
      (path.length === 4 && path[0] === "services" && path[2] === "env");
    if (inEnv && isSecret(value)) {
      used.add("secret");
      return `secret(${JSON.stringify(value.$secret)})`;
    }
    // A service that starts from a catalog preset.
    if (
      path.length === 2 &&
      path[0] === "services" &&
      isObject(value) &&
      typeof value.$catalog === "string"
    ) {
      used.add("use");
      const { $catalog, ...overrides } = value;
      const column = 4 + key(path[1]!).length + 2;
      if (Object.keys(overrides).length === 0) return `use(${JSON.stringify($catalog)})`;
      const head = `use(${JSON.stringify($catalog)}, `;
      return `${head}${print(overrides, "    ", column + head.length, path, special)})`;
    }
    return undefined;
  };
  const body = print(environment, "", "export default defineEnvironment(".length, [], special);
  const imports = [...used].sort(byCodePoint).join(", ");
  return `${header}\nimport { ${imports} } from "@kaupang/core";\n\nexport default defineEnvironment(${body});\n`;
}
