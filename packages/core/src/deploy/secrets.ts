import { KaupangError } from "../base/errors.js";
import type { EnvironmentPlan } from "../plan/types.js";

/**
 * Every secret() the environments reference must be set (and non-empty) in the
 * process environment before anything runs: never deploy a silently empty
 * secret. One error lists all that are missing.
 */
export function checkSecrets(
  environments: readonly Pick<EnvironmentPlan, "environment" | "secrets">[],
  env: NodeJS.ProcessEnv = process.env,
): void {
  const missing = new Map<string, string[]>();
  for (const plan of environments) {
    for (const variable of plan.secrets) {
      if (!env[variable]) missing.set(variable, [...(missing.get(variable) ?? []), plan.environment]);
    }
  }
  if (missing.size === 0) return;
  const list = [...missing].map(([variable, envs]) => `${variable} (${envs.join(", ")})`).join(", ");
  throw new KaupangError(
    "ERR_SECRET_MISSING",
    `missing secret${missing.size > 1 ? "s" : ""}: ${list}; nothing was deployed`,
    {
      hint: "secret() values are read from the environment at deploy time: export them (or map them in your CI step's env)",
    },
  );
}
