/**
 * After apply, read back what actually runs and compare it with what was
 * pinned: a container that kept an old image under an unchanged tag must
 * never pass as deployed.
 */
import type { Backend, BackendContext } from "../backends/backend.js";
import { KaupangError } from "../base/errors.js";
import type { EnvironmentPlan } from "../plan/types.js";

export async function verifyRunning(
  backend: Backend,
  ctx: BackendContext,
  env: EnvironmentPlan,
): Promise<void> {
  const running = new Map((await backend.running(ctx, env)).map((r) => [r.service, r]));
  for (const image of env.images) {
    if (!image.pinned || !image.digest || env.replicas[image.service] === 0) continue;
    const instances = running.get(image.service)?.instances ?? [];
    if (instances.length === 0) {
      throw new KaupangError(
        "ERR_VERIFY_FAILED",
        `${env.environment}: service ${image.service} is not running after the deploy`,
      );
    }
    for (const instance of instances) {
      const ok = image.local ? instance.imageId === image.digest : instance.digests.includes(image.digest);
      if (!ok) {
        const actual = image.local ? instance.imageId : instance.digests.join(", ") || instance.ref;
        throw new KaupangError(
          "ERR_VERIFY_FAILED",
          `${env.environment}: service ${image.service} runs ${actual ?? "an unknown image"}, not the pinned ${image.digest}`,
          {
            hint: "the backend kept or started another image than the one deployed; the deploy is recorded as failed",
          },
        );
      }
    }
  }
}
