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
  /** What "runs" per environment (a test may change it, as a node would). */
  live: Map<string, RunningService[]>;
  /** How long an apply takes (ms); 0 by default. */
  applyMs: number;
  /** The most applies that ran at the same time. */
  maxConcurrent: number;
}

export function fakeBackend(): FakeBackend {
  const running = new Map<string, RunningService[]>();
  let active = 0;
  const fake: FakeBackend = {
    calls: [],
    applied: [],
    failApply: new Set(),
    runWrongImage: new Set(),
    live: running,
    applyMs: 0,
    maxConcurrent: 0,
    async apply(ctx, env) {
      // On one of a target's hosts: "apply market on ssh://…", and it fails for "market on ssh://…" too.
      const name = ctx.target.dockerHost ? `${env.environment} on ${ctx.target.dockerHost}` : env.environment;
      fake.calls.push(`apply ${name}`);
      fake.applied.push(env);
      // A failing apply fails at once; a good one takes applyMs.
      if (fake.failApply.delete(name) || fake.failApply.delete(env.environment)) {
        throw new KaupangError("ERR_DEPLOY_FAILED", `${env.environment}: service web exited with code 1`);
      }
      active++;
      fake.maxConcurrent = Math.max(fake.maxConcurrent, active);
      try {
        if (fake.applyMs > 0) await new Promise((r) => setTimeout(r, fake.applyMs));
      } finally {
        active--;
      }
      const wrong = fake.runWrongImage.has(env.environment);
      running.set(
        name,
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
    async remove(ctx, env) {
      const name = ctx.target.dockerHost ? `${env.environment} on ${ctx.target.dockerHost}` : env.environment;
      fake.calls.push(`remove ${name}`);
      running.delete(name);
    },
    async running(ctx, env) {
      const name = ctx.target.dockerHost ? `${env.environment} on ${ctx.target.dockerHost}` : env.environment;
      return running.get(name) ?? [];
    },
  };
  return fake;
}
