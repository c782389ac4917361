import { KaupangError } from "../base/errors.js";
import { addSecretValues } from "../base/redact.js";
import type { EnvironmentPlan } from "../plan/types.js";

/**
 * Every secret() the environments reference must be set (and non-empty) in the
 * process environment before anything runs: never deploy a silently empty
 * secret. One error lists all that are missing. The values are registered to
 * be masked in everything kaupang prints or stores from then on.
 */
export function checkSecrets(
  environments: readonly Pick<EnvironmentPlan, "environment" | "secrets">[],
  env: NodeJS.ProcessEnv = process.env,
): void {
  const missing = missingSecrets(environments, env);
  for (const plan of environments) {
    const values = plan.secrets.map((variable) => env[variable]).filter((v): v is string => !!v);
    addSecretValues(values);
  }
  if (missing.size === 0) return;
  const list = secretList(missing);
  throw new KaupangError(
    "ERR_SECRET_MISSING",
    `missing secret${missing.size > 1 ? "s" : ""}: ${list}; nothing was deployed`,
    {
      hint: "secret() values are read from the environment at deploy time: export them (or map them in your CI step's env)",
    },
  );
}

/** Secret variables not set (or empty) in `env` → the environments that reference them. */
function missingSecrets(
  environments: readonly Pick<EnvironmentPlan, "environment" | "secrets">[],
  env: NodeJS.ProcessEnv = process.env,
): Map<string, string[]> {
  const missing = new Map<string, string[]>();
  for (const plan of environments) {
    for (const variable of plan.secrets) {
      if (!env[variable]) missing.set(variable, [...(missing.get(variable) ?? []), plan.environment]);
    }
  }
  return missing;
}

/** "A (api), B (api, db)". */
const secretList = (missing: ReadonlyMap<string, readonly string[]>): string =>
  [...missing].map(([variable, envs]) => `${variable} (${envs.join(", ")})`).join(", ");

/**
 * The warning a dry-run prints for secrets `up` would stop on (compose and
 * swarm read them from this process's environment; a Kubernetes Secret lives
 * in the cluster, which a dry-run does not ask).
 */
export function unsetSecretsWarning(
  plan: { backend: string; environments: readonly Pick<EnvironmentPlan, "environment" | "secrets">[] },
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (plan.backend === "kubernetes") return undefined;
  const missing = missingSecrets(plan.environments, env);
  if (missing.size === 0) return undefined;
  return `secret${missing.size > 1 ? "s" : ""} not set in this environment: ${secretList(missing)}; up would stop before deploying anything (export ${missing.size > 1 ? "them" : "it"}, or map ${missing.size > 1 ? "them" : "it"} in your CI step's env)`;
}
