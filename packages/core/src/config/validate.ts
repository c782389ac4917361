import type * as z from "zod";
import { KaupangError, showValue } from "../base/errors.js";

/** A field path as users read it: `services.web.ports[0]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else {
      const key = String(segment);
      const plain = /^[A-Za-z_$][\w$-]*$/.test(key);
      out += plain ? (out ? `.${key}` : key) : `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

interface Problem {
  path: PropertyKey[];
  message: string;
}

/** Flatten a zod issue into problems users can act on; unions report the branch that fits the input. */
function problemsOf(issue: z.core.$ZodIssue, base: PropertyKey[] = []): Problem[] {
  const path = [...base, ...issue.path];
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key) => ({ path: [...path, key], message: issue.message }));
    case "invalid_union": {
      const branches = issue.errors;
      // Prefer the branch that got past the type check: it matched the input's shape.
      const fitting = branches.find(
        (b) => b.length > 0 && !b.every((i) => i.code === "invalid_type" && i.path.length === 0),
      );
      if (fitting) return fitting.flatMap((i) => problemsOf(i, path));
      const expected = branches
        .flatMap((b) => b.map((i) => (i.code === "invalid_type" ? i.expected : undefined)))
        .filter((e): e is NonNullable<typeof e> => e !== undefined);
      const input = (issue as { input?: unknown }).input;
      return [{ path, message: `expected ${[...new Set(expected)].join(" or ")}, got ${showValue(input)}` }];
    }
    case "invalid_type": {
      const input = (issue as { input?: unknown }).input;
      if (input === undefined) return [{ path, message: "is required" }];
      if (/^expected an object/.test(issue.message)) return [{ path, message: issue.message }];
      return [{ path, message: `expected ${issue.expected}, got ${showValue(input)}` }];
    }
    default:
      return [{ path, message: issue.message }];
  }
}

/**
 * Validate `data` against `schema`; on failure throw one KaupangError whose
 * one-line message names the file, the field path and the bad value.
 */
export function validate<S extends z.ZodType>(
  schema: S,
  data: unknown,
  file: string,
  basePath: PropertyKey[] = [],
): z.output<S> {
  const result = schema.safeParse(data, { reportInput: true });
  if (result.success) return result.data;
  const problems = result.error.issues.flatMap((issue) => problemsOf(issue, basePath));
  const [first] = problems;
  const where = first && first.path.length > 0 ? `${formatPath(first.path)}: ` : "";
  const more =
    problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? "s" : ""})` : "";
  const error = new KaupangError(
    "ERR_CONFIG_INVALID",
    `${file}: ${where}${first?.message ?? "invalid"}${more}`,
  );
  (error as KaupangError & { problems?: string[] }).problems = problems.map(
    (p) => `${file}: ${p.path.length > 0 ? `${formatPath(p.path)}: ` : ""}${p.message}`,
  );
  throw error;
}

/** A config-level error at a field, formatted like validation errors. */
export function fieldError(file: string, path: PropertyKey[], message: string, hint?: string): KaupangError {
  const where = path.length > 0 ? `${formatPath(path)}: ` : "";
  return new KaupangError("ERR_CONFIG_INVALID", `${file}: ${where}${message}`, hint ? { hint } : {});
}
