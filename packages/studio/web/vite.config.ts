import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The page is plain React + @xyflow/react; esbuild compiles the JSX, so no
// framework plugin is needed. The server serves dist/web as static files.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  logLevel: "warn",
  esbuild: { jsx: "automatic" },
  build: {
    outDir: fileURLToPath(new URL("../dist/web", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 600,
    rollupOptions: {
      // @xyflow/react marks itself "use client" for server-rendering frameworks; meaningless here.
      onwarn(warning, warn) {
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
    },
  },
});
