import type * as z from "zod";
import { type Cycle, formatProblem, KaupangError, type Problem, showValue } from "../base/errors.js";

/** A problem before it is placed in a file. */
type Found = Omit<Problem, "file">;

const inputOf = (issue: z.core.$ZodIssue): { value?: unknown } => {
  const input = (issue as { input?: unknown }).input;
  return input === undefined || issue.code === "unrecognized_keys" ? {} : { value: input };
};

/** Flatten a zod issue into problems users can act on; unions report the branch that fits the input. */
function problemsOf(issue: z.core.$ZodIssue, base: Problem["path"] = []): Found[] {
  const path = [...base, ...(issue.path as Problem["path"])];
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
      return [
        {
          path,
          ...inputOf(issue),
          message: `expected ${[...new Set(expected)].join(" or ")}, got ${showValue(input)}`,
        },
      ];
    }
    case "invalid_type": {
      const input = (issue as { input?: unknown }).input;
      if (input === undefined) return [{ path, message: "is required" }];
      if (/^expected an object/.test(issue.message)) return [{ path, value: input, message: issue.message }];
      return [{ path, value: input, message: `expected ${issue.expected}, got ${showValue(input)}` }];
    }
    default:
      return [{ path, ...inputOf(issue), message: issue.message }];
  }
}

/**
 * Validate `data` against `schema`; on failure throw one KaupangError carrying
 * every problem, whose one-line message names the file, the field path and
 * the bad value of the first.
 */
export function validate<S extends z.ZodType>(
  schema: S,
  data: unknown,
  file: string,
  basePath: Problem["path"] = [],
): z.output<S> {
  const result = schema.safeParse(data, { reportInput: true });
  if (result.success) return result.data;
  const found = result.error.issues.flatMap((issue) => problemsOf(issue, basePath));
  const problems: Problem[] = (found.length > 0 ? found : [{ path: [], message: "invalid" }]).map((p) => ({
    file,
    ...p,
  }));
  const more =
    problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? "s" : ""})` : "";
  throw new KaupangError("ERR_CONFIG_INVALID", `${formatProblem(problems[0]!)}${more}`, { problems });
}

/** A user error about one field of a file, formatted like validation errors, carrying it as a problem. */
export function fieldError(problem: Problem, options: { hint?: string; cycle?: Cycle } = {}): KaupangError {
  return new KaupangError("ERR_CONFIG_INVALID", formatProblem(problem), {
    problems: [problem],
    ...(options.hint ? { hint: options.hint } : {}),
    ...(options.cycle ? { cycle: options.cycle } : {}),
  });
}
