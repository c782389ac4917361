/**
 * What the core reports while it works. The CLI renders these on stderr; a
 * library user can log them or ignore them. Nothing in core prints.
 */
export type KaupangEvent =
  /** A step of the run began ("deploying market", "waiting for web"). */
  | { type: "stage"; scope?: string; message: string }
  /**
   * A child process is about to run (display form, never with secret values).
   * `detail`: one of kaupang's own look-ups (inspect, ls), shown only when verbose.
   */
  | { type: "command"; scope?: string; command: string; detail?: boolean }
  /** A line of a child's output (`detail`: of a look-up, shown only when verbose). */
  | { type: "output"; scope?: string; stream: "stdout" | "stderr"; line: string; detail?: boolean }
  /** Something the user should know that is not an error. */
  | { type: "warning"; scope?: string; message: string }
  /** A step finished. */
  | { type: "done"; scope?: string; message: string; durationMs: number };

export type EventSink = (event: KaupangEvent) => void;

export const silent: EventSink = () => {};
