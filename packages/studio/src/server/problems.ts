/**
 * The core's errors, placed on what they concern. A user error carries its
 * problems as data — file, field path, value, message — and a cycle as its
 * names, so the file tells whether it is the drawn environment and the path
 * which service and field; nothing here reads a message to find them.
 * Messages pass through safeMessage: an error never quotes the contents of a
 * file the studio read.
 */
import { type Problem as CoreProblem, formatProblem, isKaupangError } from "@kaupang/core";
import type { Cycle, Problem } from "./api-types.js";

/**
 * An error message safe to show in the page: a syntax or load error keeps the
 * file and the line and column but not the parser's quote of the text.
 */
export function safeMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = isKaupangError(error) ? error.code : "";
  if (code === "ERR_CONFIG_SYNTAX" || code === "ERR_CONFIG_LOAD") {
    const kept = /^(.*?: (?:invalid JSON|syntax error|failed to load)(?: at line \d+, column \d+)?)/.exec(
      message,
    );
    return kept ? kept[1]! : (message.split(":")[0] ?? "a file could not be read");
  }
  if (code === "ERR_CATALOG_INVALID" && /not valid JSON|did not answer JSON/.test(message)) {
    return message.replace(/: [^:]*$/, ": not valid JSON");
  }
  if (isKaupangError(error)) return message.split("\n")[0]!;
  return "internal error (see the terminal running kaupang studio)";
}

/** Problems of a failed plan of environment `file`; the cycle when the core reported one. */
export function problemsOf(error: unknown, file: string): { problems: Problem[]; cycle?: Cycle } {
  const found = isKaupangError(error) ? error.problems : [];
  const problems: Problem[] =
    found.length > 0
      ? found.map((problem) => place(problem, file))
      : [{ message: safeMessage(error), scope: "project", path: [] }];
  if (isKaupangError(error) && error.hint && problems.length === 1) {
    problems[0]!.message += ` (${error.hint})`;
  }
  const cycle = isKaupangError(error) ? error.cycle : undefined;
  if (cycle && cycle.kind !== "steps") {
    return {
      problems: problems.map((problem) => ({ ...problem, cycle: true })),
      cycle: { kind: cycle.kind, nodes: cycle.nodes },
    };
  }
  return { problems };
}

/** A core problem on the drawing: its service and field, or the environment, or (another file) the project. */
export function place(problem: CoreProblem, file: string): Problem {
  // Another file's problem: its values stay out of the page.
  if (problem.file !== file)
    return { message: withoutValues(formatProblem(problem)), scope: "project", path: [] };
  const { path, message } = problem;
  if (path[0] === "services" && typeof path[1] === "string") {
    const field =
      typeof path[2] === "string"
        ? path[2]
        : problem.subject === "name" && path.length === 2
          ? "name"
          : undefined;
    return { message, scope: "service", service: path[1], ...(field ? { field } : {}), path };
  }
  if (path.length === 0 && problem.subject === "name") {
    return { message, scope: "environment", field: "name", path: [] };
  }
  return { message, scope: "environment", ...(typeof path[0] === "string" ? { field: path[0] } : {}), path };
}

/** A message about a file the studio read, with the values it quotes left out (`"…"`). */
export function withoutValues(message: string): string {
  const colon = message.indexOf(": ");
  if (colon < 0) return message;
  return message.slice(0, colon + 2) + message.slice(colon + 2).replace(/"(?:[^"\\]|\\.)*"/g, '"…"');
}
