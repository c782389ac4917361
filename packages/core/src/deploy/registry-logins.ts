/**
 * Kubernetes pulls with the deployer's docker login, as swarm does with
 * --with-registry-auth: which registries of a plan's images the deployer has
 * a login for decides which environments get a registry-login Secret. Only
 * the registry names go into the plan; the credentials are read again when
 * the Secret is applied.
 */
import { parseImageRef } from "../base/image-reference.js";
import { credentialsFor } from "../images/credentials.js";
import { createPlan } from "../plan/create-plan.js";
import type { Plan } from "../plan/types.js";
import type { Planned } from "./plan-up.js";

/** The registries of the plan's images the deployer has a docker login for (none off Kubernetes, or with registryAuth: false). */
export async function registryLogins(plan: Plan, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  if (plan.backend !== "kubernetes" || plan.targetSettings.registryAuth === false) return [];
  const registries = [
    ...new Set(plan.environments.flatMap((e) => e.images.map((i) => parseImageRef(i.ref).registry))),
  ].sort();
  const found = await Promise.all(
    registries.map(async (registry) => ((await credentialsFor(registry, env)) ? registry : undefined)),
  );
  return found.filter((r): r is string => r !== undefined);
}

/** The plan again, with the environments that pull with the deployer's login marked (what `up --dry-run` shows). */
export async function withRegistryLogins(planned: Planned, env?: NodeJS.ProcessEnv): Promise<Planned> {
  const logins = await registryLogins(planned.plan, env);
  if (logins.length === 0) return planned;
  const plan = createPlan(planned.model, { pull: planned.plan.pull, registryLogins: logins });
  if (planned.plan.solution) plan.solution = planned.plan.solution;
  return { ...planned, plan };
}
