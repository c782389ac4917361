/**
 * Config values → the text of a config file in one of the three formats a
 * project can be written in. Values are plain data plus two kinds of
 * expression a TypeScript or JavaScript file can hold and JSON cannot: a
 * secret reference (`secret("VAR")`, in JSON `{ "$secret": "VAR" }`) and a
 * string read from the process environment when the config loads (compose's
 * `${VAR:-default}` interpolation, `process.env.VAR ?? "default"`).
 */

export type InitFormat = "ts" | "mjs" | "json";

/** `secret("name")`. */
export class SecretExpr {
  constructor(readonly variable: string) {}
}

/** One piece of an interpolated string: literal text or a variable with compose's fallback rules. */
export type InterpolationPart =
  | string
  | {
      variable: string;
      /** `${VAR:-x}` (unset or empty → x) or `${VAR-x}` (unset → x). */
      fallback?: { value: string; whenEmpty: boolean };
    };

/** A string built from the process environment when the config loads. */
export class EnvExpr {
  constructor(readonly parts: readonly InterpolationPart[]) {}
}

export type SourceValue =
  | string
  | number
  | boolean
  | SecretExpr
  | EnvExpr
  | readonly SourceValue[]
  | { readonly [key: string]: SourceValue | undefined };

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const lineWidth = 110;

function key(name: string, format: InitFormat): string {
  return format !== "json" && identifier.test(name) ? name : JSON.stringify(name);
}

/** `process.env.VAR ?? "default"`; an unset variable without a default reads as "", as in compose. */
function envRead(part: Exclude<InterpolationPart, string>): string {
  const read = identifier.test(part.variable)
    ? `process.env.${part.variable}`
    : `process.env[${JSON.stringify(part.variable)}]`;
  if (!part.fallback) return `${read} ?? ""`;
  return `${read} ${part.fallback.whenEmpty ? "||" : "??"} ${JSON.stringify(part.fallback.value)}`;
}

function expression(value: EnvExpr): string {
  const [only] = value.parts;
  if (value.parts.length === 1 && only !== undefined && typeof only !== "string") return envRead(only);
  let text = "`";
  for (const part of value.parts) {
    if (typeof part === "string") text += part.replace(/[`\\]|\$\{/g, (m) => `\\${m}`);
    else text += `\${${envRead(part)}}`;
  }
  return `${text}\``;
}

/** One value as source text, indented for `depth`. */
export function sourceOf(value: SourceValue, format: InitFormat, depth = 0): string {
  if (value instanceof SecretExpr) {
    return format === "json"
      ? `{ "$secret": ${JSON.stringify(value.variable)} }`
      : `secret(${JSON.stringify(value.variable)})`;
  }
  if (value instanceof EnvExpr) {
    if (format === "json") throw new Error("an environment expression cannot be written as JSON");
    return expression(value);
  }
  if (typeof value !== "object") return JSON.stringify(value);
  const pad = "  ".repeat(depth + 1);
  const end = "  ".repeat(depth);
  if (Array.isArray(value)) {
    const items = (value as readonly SourceValue[]).map((v) => sourceOf(v, format, depth + 1));
    const flat = `[${items.join(", ")}]`;
    if (items.length === 0) return "[]";
    if (!flat.includes("\n") && flat.length + depth * 2 <= lineWidth - 30) return flat;
    return `[\n${items.map((i) => `${pad}${i}`).join(",\n")}${format === "json" ? "" : ","}\n${end}]`;
  }
  const entries = Object.entries(value as Record<string, SourceValue | undefined>).filter(
    (entry): entry is [string, SourceValue] => entry[1] !== undefined,
  );
  if (entries.length === 0) return "{}";
  const items = entries.map(([k, v]) => `${key(k, format)}: ${sourceOf(v, format, depth + 1)}`);
  const flat = `{ ${items.join(", ")} }`;
  // The top level always spreads over lines, as a person writes a config.
  if (depth > 0 && !flat.includes("\n") && flat.length + depth * 2 <= lineWidth - 30 && entries.length <= 3) {
    return flat;
  }
  return `{\n${items.map((i) => `${pad}${i}`).join(",\n")}${format === "json" ? "" : ","}\n${end}}`;
}

function uses(value: SourceValue, kind: typeof SecretExpr | typeof EnvExpr): boolean {
  if (value instanceof kind) return true;
  if (typeof value !== "object" || value instanceof SecretExpr || value instanceof EnvExpr) return false;
  return Object.values(value as Record<string, SourceValue | undefined>).some(
    (v) => v !== undefined && uses(v, kind),
  );
}

/** The whole text of a config (`define: "defineConfig"`) or environment (`"defineEnvironment"`) file. */
export function fileSource(
  value: SourceValue,
  format: InitFormat,
  define: "defineConfig" | "defineEnvironment",
  comment?: readonly string[],
): string {
  const body = sourceOf(value, format, 0);
  if (format === "json") return `${body}\n`;
  const helpers = [define, ...(uses(value, SecretExpr) ? ["secret"] : [])];
  const header = (comment ?? []).map((line) => `// ${line}`.trimEnd());
  return [
    ...header,
    `import { ${helpers.join(", ")} } from "@kaupang/core";`,
    "",
    `export default ${define}(${body});`,
    "",
  ].join("\n");
}
