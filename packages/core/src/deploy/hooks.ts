import { resolve } from "node:path";
import { KaupangError } from "../base/errors.js";
import type { EventSink } from "../base/events.js";
import type { Hook } from "../config/model.js";
import { runShell, tail } from "../exec/exec.js";

type HookPhase = "beforeUp" | "afterUp" | "beforeDown" | "afterDown";

/**
 * Run an environment's hooks of one phase, in order; the first failure stops
 * everything. `env` is added for every hook (under the hook's own env): a
 * deploy passes KAUPANG_DEPLOYMENT_ID, KAUPANG_ENVIRONMENT, KAUPANG_TARGET
 * and KAUPANG_ACTION.
 */
export async function runHooks(
  hooks: readonly Hook[],
  phase: HookPhase,
  scope: string,
  events: EventSink,
  env: Record<string, string> = {},
  root = process.cwd(),
): Promise<void> {
  for (const hook of hooks) {
    events({ type: "stage", scope, message: `${phase} hook: ${hook.run}` });
    // A recorded unit names its hooks' directories relative to the checkout (plan/unit.ts, portableUnit).
    const cwd = resolve(root, hook.cwd);
    const result = await runShell(hook.run, { cwd, env: { ...env, ...hook.env }, events, scope });
    if (result.signal) {
      throw new KaupangError(
        "ERR_HOOK_FAILED",
        `${scope}: ${phase} hook was stopped (${result.signal}): ${hook.run}`,
      );
    }
    if (result.exitCode !== 0) {
      const last = tail(result.stderr) || tail(result.stdout);
      throw new KaupangError(
        "ERR_HOOK_FAILED",
        `${scope}: ${phase} hook failed (exit ${result.exitCode}): ${hook.run}${last ? ` — ${last}` : ""}`,
        { hint: "nothing after this hook ran; fix the hook or its command and run again" },
      );
    }
  }
}
