/**
 * The one error type for mistakes a user can make and fix: bad config, unknown
 * target, missing secret, a backend command that failed. The CLI prints
 * `message` on one line (and `hint` on a second) and exits 1. Anything else
 * thrown is a bug and gets a stack trace under `--debug`.
 *
 * Branch on `code`, never on `instanceof`: two copies of this module (for
 * example one loaded through a user's config) must still agree.
 */
/**
 * One thing wrong with what a user wrote: the file, the field path inside it,
 * the value found there (when there is one) and what is wrong with it. The
 * CLI prints one line per problem; the studio places it on the drawing.
 */
export interface Problem {
  /** The file, as users see it (relative to the config root), or a catalog's label. */
  file: string;
  /** Field path inside the file: ["services", "web", "ports", 0]; empty for the file as a whole. */
  path: (string | number)[];
  /** The value found at `path`, when it is the value that is wrong. Never a secret's value. */
  value?: unknown;
  /** What is wrong, without the file and path (`expected number, got "eighty"`). */
  message: string;
  /** "name": the key at `path` is what is wrong (a service's or the environment's name), not its value. */
  subject?: "name";
}

/** A dependency cycle, as names: the first one repeated at the end. */
export interface Cycle {
  kind: "environments" | "services" | "steps";
  nodes: string[];
}

/** A field path as users read it: `services.web.ports[0]`. */
function formatPath(path: readonly PropertyKey[]): string {
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

/** One line for a problem: `file: field.path: message`. */
export function formatProblem(problem: Problem): string {
  return `${problem.file}: ${problem.path.length > 0 ? `${formatPath(problem.path)}: ` : ""}${problem.message}`;
}

export interface KaupangErrorOptions {
  hint?: string;
  cause?: unknown;
  exitCode?: number;
  details?: Record<string, string>;
  /** What is wrong in the user's files, one entry per problem (config errors). */
  problems?: Problem[];
  /** The cycle, when the error is a dependency cycle. */
  cycle?: Cycle;
}

export class KaupangError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  /** Exit code the CLI uses; 1 unless a command defines another (status drift is 3). */
  readonly exitCode: number;
  /** Structured facts about the failure for callers (e.g. which environment). */
  readonly details: Readonly<Record<string, string>>;
  /** Every problem found in the user's files; empty for errors that are not about them. */
  readonly problems: readonly Problem[];
  readonly cycle: Cycle | undefined;

  constructor(code: string, message: string, options: KaupangErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "KaupangError";
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
    this.details = options.details ?? {};
    this.problems = options.problems ?? [];
    this.cycle = options.cycle;
  }
}

export function isKaupangError(error: unknown): error is KaupangError {
  return (
    typeof error === "object" &&
    error !== null &&
    (error as { name?: unknown }).name === "KaupangError" &&
    typeof (error as { code?: unknown }).code === "string"
  );
}

/** Quote a user-supplied value for an error message: strings in JSON quotes, the rest as JSON. */
export function showValue(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "function") return "a function";
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return String(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(value);
  }
}

/** The message of anything thrown, for records and one-line output. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
