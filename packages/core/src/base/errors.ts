/**
 * The one error type for mistakes a user can make and fix: bad config, unknown
 * target, missing secret, a backend command that failed. The CLI prints
 * `message` on one line (and `hint` on a second) and exits 1. Anything else
 * thrown is a bug and gets a stack trace under `--debug`.
 *
 * Branch on `code`, never on `instanceof`: two copies of this module (for
 * example one loaded through a user's config) must still agree.
 */
export class KaupangError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  /** Exit code the CLI uses; 1 unless a command defines another (status drift is 3). */
  readonly exitCode: number;
  /** Structured facts about the failure for callers (e.g. which environment). */
  readonly details: Readonly<Record<string, string>>;

  constructor(
    code: string,
    message: string,
    options: { hint?: string; cause?: unknown; exitCode?: number; details?: Record<string, string> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "KaupangError";
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
    this.details = options.details ?? {};
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
