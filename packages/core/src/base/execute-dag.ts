/**
 * Run a DAG of named tasks: a task starts as soon as all it needs succeeded,
 * at most `concurrency` at once. When one fails (or the run is aborted) no new
 * task starts; running siblings finish. Every task ends in exactly one state.
 */
export type TaskStatus = "succeeded" | "failed" | "skipped" | "not started";

export interface TaskOutcome<T> {
  status: TaskStatus;
  startedAt?: Date;
  endedAt?: Date;
  value?: T;
  error?: unknown;
}

interface DagTask {
  name: string;
  needs: readonly string[];
}

export async function executeDag<T>(
  tasks: readonly DagTask[],
  run: (name: string) => Promise<T>,
  options: {
    concurrency: number;
    signal?: AbortSignal;
    onStart?: (name: string) => void;
    onEnd?: (name: string, outcome: TaskOutcome<T>) => void;
  },
): Promise<Map<string, TaskOutcome<T>>> {
  const outcomes = new Map<string, TaskOutcome<T>>();
  const pending = new Set(tasks.map((t) => t.name));
  const needs = new Map(tasks.map((t) => [t.name, t.needs]));
  const running = new Map<string, Promise<void>>();
  let stopped = false;

  // In declaration order: the order the user wrote the steps in.
  const ready = () =>
    tasks
      .map((t) => t.name)
      .filter(
        (name) => pending.has(name) && needs.get(name)!.every((n) => outcomes.get(n)?.status === "succeeded"),
      );

  const start = (name: string) => {
    pending.delete(name);
    const outcome: TaskOutcome<T> = { status: "failed", startedAt: new Date() };
    options.onStart?.(name);
    const promise = run(name).then(
      (value) => {
        outcome.status = "succeeded";
        outcome.value = value;
      },
      (error) => {
        outcome.status = "failed";
        outcome.error = error;
        stopped = true;
      },
    );
    running.set(
      name,
      promise.finally(() => {
        outcome.endedAt = new Date();
        outcomes.set(name, outcome);
        running.delete(name);
        options.onEnd?.(name, outcome);
      }),
    );
  };

  for (;;) {
    if (options.signal?.aborted) stopped = true;
    if (!stopped) {
      for (const name of ready()) {
        if (running.size >= options.concurrency) break;
        start(name);
      }
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }

  // What never ran: skipped when something it needs (transitively) failed or was skipped, else not started.
  const failedOrSkipped = (name: string): boolean =>
    needs.get(name)!.some((n) => {
      const status = outcomes.get(n)?.status;
      return status === "failed" || status === "skipped" || (status === undefined && failedOrSkipped(n));
    });
  for (const task of tasks) {
    if (!outcomes.has(task.name)) {
      outcomes.set(task.name, { status: failedOrSkipped(task.name) ? "skipped" : "not started" });
    }
  }
  return outcomes;
}
