/**
 * The studio as the CLI wires it: with the CLI's --dry-run formatter, its plan
 * text is what `kaupang up --dry-run` prints for the file it saved.
 */
import { cpSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { DraftEnvironment, ExportResponse, PlanResponse, SaveResponse, Studio } from "@kaupang/studio";
import { startStudio } from "@kaupang/studio";
import { afterEach, describe, expect, it } from "vitest";
import { testdir } from "../../../../test/support/testdir.js";
import { formatPlan } from "../output/plan-text.js";
import { cli } from "../testing/cli.js";

const longhall = fileURLToPath(new URL("../../../../examples/longhall", import.meta.url));

const running: Studio[] = [];
afterEach(async () => {
  while (running.length > 0) await running.pop()!.close();
});

/** A copy of the flagship example: the studio may write into it. */
function flagship(): string {
  const dir = testdir({});
  cpSync(longhall, dir, { recursive: true, filter: (src) => !src.includes(".kaupang") });
  return dir;
}

async function start(cwd: string) {
  const studio = await startStudio({ cwd, port: 0, formatPlan });
  running.push(studio);
  const base = `http://127.0.0.1:${studio.port}`;
  const call = async <T>(path: string, body?: unknown) => {
    const response = await fetch(`${base}${path}?token=${studio.token}`, {
      method: body === undefined ? "GET" : "POST",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? null : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  return { studio, base, call };
}

/** runes-cache → saga-store → gate, drawn as `hall`, next to the flagship's environments. */
const hall: DraftEnvironment = {
  dependsOn: ["saga"],
  services: {
    "runes-cache": { $catalog: "runes-cache" },
    "saga-store": { $catalog: "saga-store", dependsOn: ["runes-cache"] },
    gate: {
      image: "nginx:1.27",
      ports: ["8088:80"],
      env: { HALL_KEY: { $secret: "HALL_KEY" }, MODE: "open" },
      dependsOn: ["saga-store"],
    },
  },
};

describe("kaupang studio's plans", () => {
  it("shows the drawing's plan as the --dry-run text", async () => {
    const { call } = await start(flagship());
    const { body } = await call<PlanResponse>("/api/plan", {
      name: "hall",
      target: "local",
      environment: hall,
    });
    expect(body.plan!.text).toContain(
      ["hall", "  ├─ wave 1: runes-cache", "  ├─ wave 2: saga-store", "  └─ wave 3: gate"].join("\n"),
    );
  });

  it("exports TypeScript that `kaupang up --dry-run` plans into exactly the drawn waves", async () => {
    const cwd = flagship();
    const { call } = await start(cwd);
    const exported = (
      await call<ExportResponse>("/api/export", { name: "hall", environment: hall, format: "ts" })
    ).body;
    expect(exported.ok).toBe(true);
    if (!exported.ok) return;
    expect(exported.file).toBe("environments/hall.ts");
    expect(exported.content).toContain('HALL_KEY: secret("HALL_KEY")');
    expect(existsSync(join(cwd, "environments/hall.ts"))).toBe(false);

    const saved = (await call<SaveResponse>("/api/save", { name: "hall", environment: hall, format: "ts" }))
      .body;
    expect(saved).toEqual({ ok: true, file: "environments/hall.ts" });
    expect(readFileSync(join(cwd, "environments/hall.ts"), "utf8")).toBe(exported.content);

    const r = await cli("up", "hall", "--dry-run", "--output", "json", "--cwd", cwd);
    // The drawing's secret is not set here: the dry-run says so, and plans all the same.
    expect(r.stderr).toBe(
      "! secret not set in this environment: HALL_KEY (hall); up would stop before deploying anything (export it, or map it in your CI step's env)\n",
    );
    const plan = JSON.parse(r.stdout);
    expect(plan.environmentOrder).toEqual(["saga", "hall"]);
    expect(plan.environments[1].waves).toEqual([["runes-cache"], ["saga-store"], ["gate"]]);
    expect(plan.environments[1].secrets).toEqual(["HALL_KEY"]);

    // The studio's dry-run text is the CLI's plan, for the file it saved.
    const text = await cli("up", "hall", "--dry-run", "--cwd", cwd);
    const planned = (
      await call<PlanResponse>("/api/plan", { name: "hall", target: "local", environment: hall })
    ).body;
    expect(text.stdout.endsWith(planned.plan!.text)).toBe(true);
  });
});
