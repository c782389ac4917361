import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Tests import @kaupang/core from source: no build needed for the unit tier.
const alias = {
  "@kaupang/core": fileURLToPath(new URL("./packages/core/src/index.ts", import.meta.url)),
  "@kaupang/studio": fileURLToPath(new URL("./packages/studio/src/index.ts", import.meta.url)),
};
const e2e = { testTimeout: 600_000, hookTimeout: 600_000, fileParallelism: false, retry: 0 };

export default defineConfig({
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: "unit",
          include: ["packages/*/src/**/*.test.ts"],
          testTimeout: 30_000,
        },
      },
      { resolve: { alias }, test: { name: "e2e-docker", include: ["test/e2e/docker/**/*.test.ts"], ...e2e } },
      { resolve: { alias }, test: { name: "e2e-k8s", include: ["test/e2e/k8s/**/*.test.ts"], ...e2e } },
      { resolve: { alias }, test: { name: "e2e-hosts", include: ["test/e2e/hosts/**/*.test.ts"], ...e2e } },
      {
        test: {
          name: "e2e-studio",
          include: ["test/e2e/studio/**/*.test.ts"],
          ...e2e,
          // A page waits on the server, which loads the project's TypeScript config on first use.
          expect: { poll: { timeout: 15_000 } },
        },
      },
    ],
  },
});
