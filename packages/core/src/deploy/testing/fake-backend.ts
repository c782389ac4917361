/**
 * An in-memory Backend for the orchestration tests: it records what it was
 * asked to do, "runs" what it applied, and fails where a test tells it to.
 */
import type { Backend, RunningService } from "../../backends/backend.js";
import { KaupangError } from "../../base/errors.js";
import type { EnvironmentPlan } from "../../plan/types.js";

interface FakeBackend extends Backend {
  /** "apply market", "remove saga", … in call order. */
  calls: string[];
  /** The environments applied, as the backend received them. */
  applied: EnvironmentPlan[];
  /** Fail the next apply of this environment. */
  failApply: Set<string>;
  /** Make this environment run other images than it was given (verification fails). */
  runWrongImage: Set<string>;
}

export function fakeBackend(): FakeBackend {
  const running = new Map<string, RunningService[]>();
  const fake: FakeBackend = {
    calls: [],
    applied: [],
    failApply: new Set(),
    runWrongImage: new Set(),
    async apply(_ctx, env) {
      fake.calls.push(`apply ${env.environment}`);
      fake.applied.push(env);
      if (fake.failApply.delete(env.environment)) {
        throw new KaupangError("ERR_DEPLOY_FAILED", `${env.environment}: service web exited with code 1`);
      }
      const wrong = fake.runWrongImage.has(env.environment);
      running.set(
        env.environment,
        env.images.map((image) => ({
          service: image.service,
          instances: [
            {
              digests: [wrong ? `sha256:${"f".repeat(64)}` : (image.digest ?? "")],
              ref: image.ref,
              state: "running",
            },
          ],
        })),
      );
    },
    async remove(_ctx, env) {
      fake.calls.push(`remove ${env.environment}`);
      running.delete(env.environment);
    },
    async running(_ctx, env) {
      return running.get(env.environment) ?? [];
    },
  };
  return fake;
}
