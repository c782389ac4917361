import { describe, expect, it } from "vitest";
import { json, testdir } from "../../../../test/support/testdir.js";
import { createPlan } from "../plan/create-plan.js";
import { loadModel, loadProject } from "./project.js";
import { EnvironmentSchema } from "./schema.js";
import { validate } from "./validate.js";

const caught = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return error as { problems: unknown[]; cycle?: unknown; message: string };
  }
  throw new Error("did not throw");
};

describe("structured problems", () => {
  it("carry file, field path, value and message for every problem", () => {
    const error = caught(() =>
      validate(
        EnvironmentSchema,
        { services: { web: { image: "x", ports: [true] } }, servics: {} },
        "env.ts",
      ),
    );
    expect(error.problems).toEqual([
      { file: "env.ts", path: ["services", "web", "ports", 0], value: true, message: expect.any(String) },
      { file: "env.ts", path: ["servics"], message: expect.stringContaining('did you mean "services"') },
    ]);
    expect(error.message).toMatch(/^env\.ts: services\.web\.ports\[0\]: .* \(and 1 more problem\)$/);
  });

  it("carry a cycle as its names", async () => {
    const dir = testdir({
      "kaupang.config.json": json({ project: "p", environments: "./environments" }),
      "environments/a.json": json({
        services: { x: { image: "i", dependsOn: "y" }, y: { image: "i", dependsOn: "x" } },
      }),
    });
    const model = await loadModel(await loadProject(dir), { environments: ["a"], processEnv: {} });
    const error = caught(() => createPlan(model));
    expect(error.cycle).toEqual({ kind: "services", nodes: ["x", "y", "x"] });
    expect(error.problems).toEqual([
      { file: "environments/a.json", path: ["services"], message: "service dependency cycle: x → y → x" },
    ]);
  });
});
