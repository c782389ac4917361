/**
 * The core's errors, placed on what they concern. The core names a problem as
 * one line, `<file>: <field path>: <message>` (validation lists every problem
 * that way), so the file tells whether it is the drawn environment and the
 * path tells which service and field. Messages pass through safeMessage: an
 * error never quotes the contents of a file the studio read.
 */
import { isKaupangError } from "@kaupang/core";
import type { Cycle, Problem } from "./api-types.js";

type Segment = string | number;

/** Parse a field path as the core prints it (`services.web.ports[0]`, `services["a b"]`) up to ": ". */
export function parseFieldPath(text: string): { path: Segment[]; rest: string } | undefined {
  const path: Segment[] = [];
  let i = 0;
  const ident = /^[A-Za-z_$][\w$-]*/;
  while (i < text.length) {
    if (path.length > 0 && text.startsWith(": ", i)) return { path, rest: text.slice(i + 2) };
    if (text[i] === "[") {
      const index = /^\[(\d+)\]/.exec(text.slice(i));
      if (index) {
        path.push(Number(index[1]));
        i += index[0].length;
        continue;
      }
      const quoted = /^\[("(?:[^"\\]|\\.)*")\]/.exec(text.slice(i));
      if (!quoted) return undefined;
      path.push(JSON.parse(quoted[1]!) as string);
      i += quoted[0].length;
      continue;
    }
    const dot = path.length > 0 ? text[i] === "." : true;
    if (!dot) return undefined;
    const name = ident.exec(text.slice(path.length > 0 ? i + 1 : i));
    if (!name) return undefined;
    path.push(name[0]);
    i += (path.length > 1 ? 1 : 0) + name[0].length;
  }
  return undefined;
}

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
  const lines =
    isKaupangError(error) && error.code === "ERR_CONFIG_INVALID"
      ? ((error as { problems?: string[] }).problems ?? [error.message])
      : [safeMessage(error)];
  const invalid = isKaupangError(error) && error.code === "ERR_CONFIG_INVALID";
  const problems = lines.map((line) =>
    // Another file's validation problem: its values stay out of the page.
    !line.startsWith(`${file}: `) && invalid ? placeLine(withoutValues(line), file) : placeLine(line, file),
  );
  if (isKaupangError(error) && error.hint && problems.length === 1) {
    problems[0]!.message += ` (${error.hint})`;
  }
  const message = error instanceof Error ? error.message : "";
  const cycle = /(service|environment) dependency cycle: (.+)$/.exec(message);
  if (cycle) {
    return {
      problems,
      cycle: {
        kind: cycle[1] === "service" ? "services" : "environments",
        nodes: cycle[2]!.split(" → "),
      },
    };
  }
  // Two environments deployed together define the same service name.
  const clash = /^service "([^"]+)" is defined in environments/.exec(message);
  if (clash && problems[0]) Object.assign(problems[0], { scope: "service", service: clash[1] });
  return { problems };
}

function placeLine(line: string, file: string): Problem {
  if (!line.startsWith(`${file}: `)) return { message: line, scope: "project", path: [] };
  const text = line.slice(file.length + 2);
  if (/^environment name "/.test(text)) {
    return { message: text, scope: "environment", field: "name", path: [] };
  }
  const parsed = parseFieldPath(text);
  if (!parsed) return { message: text, scope: "environment", path: [] };
  const { path, rest } = parsed;
  if (path[0] === "services" && typeof path[1] === "string") {
    const field = typeof path[2] === "string" ? path[2] : /^service name "/.test(rest) ? "name" : undefined;
    return {
      message: rest,
      scope: "service",
      service: path[1],
      ...(field ? { field } : {}),
      path,
    };
  }
  return {
    message: rest,
    scope: "environment",
    ...(typeof path[0] === "string" ? { field: path[0] } : {}),
    path,
  };
}

/** A message about a file the studio read, with the values it quotes left out (`"…"`). */
export function withoutValues(message: string): string {
  const colon = message.indexOf(": ");
  if (colon < 0) return message;
  return message.slice(0, colon + 2) + message.slice(colon + 2).replace(/"(?:[^"\\]|\\.)*"/g, '"…"');
}
