/**
 * The layers of packages/core/src (docs/architecture.md, "Modules, in
 * layers"): a folder imports only from folders below it, siblings import
 * nothing from each other, and no file is part of an import cycle. `npm run
 * lint` runs this; packages/core/src/layers.test.ts proves it fails on an
 * upward import.
 */
const core = "^packages/core/src/";
// Bottom to top; folders in one entry are siblings.
const layers = [
  ["base"],
  ["exec"],
  ["config"],
  ["render"],
  ["plan"],
  ["images", "ledger"],
  ["backends"],
  ["deploy"],
  ["inspect", "bundle", "pipeline", "init"],
];
const folder = (names) => `${core}(${names.join("|")})/`;

const layerRules = layers.flatMap((layer, index) => {
  const above = layers.slice(index + 1).flat();
  return layer.map((name) => {
    const forbidden = [...above, ...layer.filter((other) => other !== name)];
    return {
      name: `layer-${name}`,
      comment: `${name}/ may import only from the layers below it (${layers.slice(0, index).flat().join(", ") || "none"}), never from ${forbidden.join(", ")} or the public entries`,
      severity: "error",
      // A test may exercise its layer through the ones above it (a golden test plans); nothing imports a test.
      from: { path: folder([name]), pathNot: "\\.test\\.ts$" },
      to: { path: [folder(forbidden), `${core}(index|define)\\.ts$`] },
    };
  });
});

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "no file may take part in an import cycle (between folders or files)",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: "pure-render-and-plan",
      comment:
        "render/ and plan/ are pure (Model → artifact → Plan): no file system, process or network, which is what keeps --dry-run hermetic",
      severity: "error",
      from: { path: folder(["render", "plan"]) },
      to: {
        dependencyTypes: ["core"],
        path: "^(node:)?(fs|fs/promises|child_process|net|http|https|dgram|worker_threads)$",
      },
    },
    {
      name: "no-cross-package-src",
      comment: "a package (and its tests) imports another package by its name, never its files",
      severity: "error",
      from: { path: "^packages/([^/]+)/" },
      // Imports by package name resolve to src/ through the tsconfig paths; those are the allowed ones.
      to: { path: "^packages/([^/]+)/", pathNot: "^packages/$1/", dependencyTypesNot: ["aliased"] },
    },
    {
      name: "no-package-imports-root-test-code",
      comment: "production code never imports test support",
      severity: "error",
      from: { path: "^packages/", pathNot: "\\.test\\.tsx?$|/testing/" },
      to: { path: "^test/|/testing/|\\.test\\.tsx?$" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(dist|node_modules)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".tsx", ".js", ".mjs", ".cjs", ".json"],
    },
  },
};
