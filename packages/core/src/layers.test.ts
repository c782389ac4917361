/**
 * The layer rule (.dependency-cruiser.cjs, run by `npm run lint`) fails on an
 * upward import, an import between sibling layers, an import cycle and a
 * file or process import in render/ or plan/ — shown on a small tree laid out
 * like packages/core/src, cruised once with the repository's own config.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { testdir } from "../../../test/support/testdir.js";

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const depcruise = `${repo}node_modules/dependency-cruiser/bin/dependency-cruise.mjs`;

const tree: Record<string, string> = {
  // Imports that point down.
  "base/errors.ts": "export const a = 1;\n",
  "config/model.ts": 'import { a } from "../base/errors.js";\nexport const b = a;\n',
  "deploy/up.ts": 'import { b } from "../config/model.js";\nexport const c = b;\n',
  "index.ts": 'export { c } from "./deploy/up.js";\n',
  // An upward import.
  "base/poll.ts": 'import { c } from "../deploy/up.js";\nexport const p = c;\n',
  // Sibling layers, and the public entry from inside.
  "images/local.ts": 'import { l } from "../ledger/ledger.js";\nexport const i = l;\n',
  "ledger/ledger.ts": "export const l = 1;\n",
  "pipeline/run.ts": 'import { c } from "../index.js";\nexport const r = c;\n',
  // A cycle inside one folder.
  "plan/types.ts": 'import { k } from "./commands.js";\nexport type T = typeof k;\n',
  "plan/commands.ts": 'import type { T } from "./types.js";\nexport const k: T | 1 = 1;\n',
  // A file system import where everything must be pure.
  "render/compose.ts": 'import { readFileSync } from "node:fs";\nexport const f = readFileSync;\n',
};

/** file (relative to packages/core/src) → the rules it breaks */
let broken: Record<string, string[]>;

beforeAll(() => {
  const dir = testdir({
    "tsconfig.json": JSON.stringify({
      compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext" },
    }),
    ...Object.fromEntries(Object.entries(tree).map(([path, text]) => [`packages/core/src/${path}`, text])),
  });
  const out = execFileSync(
    process.execPath,
    [depcruise, "packages", "--config", `${repo}.dependency-cruiser.cjs`, "--output-type", "json"],
    { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  const { summary } = JSON.parse(out) as {
    summary: { violations: { from: string; rule: { name: string } }[] };
  };
  broken = {};
  for (const v of summary.violations) {
    const from = v.from.replace("packages/core/src/", "");
    broken[from] = [...new Set([...(broken[from] ?? []), v.rule.name])].sort();
  }
}, 30_000);

describe("the layer rule", () => {
  it("passes imports that point down", () => {
    for (const file of ["base/errors.ts", "config/model.ts", "deploy/up.ts", "index.ts"])
      expect(broken[file], file).toBeUndefined();
  });

  it("fails an upward import", () => {
    expect(broken["base/poll.ts"]).toEqual(["layer-base"]);
  });

  it("fails an import between sibling layers, and one of the public entry", () => {
    expect(broken["images/local.ts"]).toEqual(["layer-images"]);
    expect(broken["pipeline/run.ts"]).toEqual(["layer-pipeline"]);
  });

  it("fails an import cycle", () => {
    // Reported once, at the cycle's first file.
    expect([...(broken["plan/types.ts"] ?? []), ...(broken["plan/commands.ts"] ?? [])]).toEqual([
      "no-circular",
    ]);
  });

  it("fails a file system import in render/ or plan/", () => {
    expect(broken["render/compose.ts"]).toEqual(["pure-render-and-plan"]);
  });
});
