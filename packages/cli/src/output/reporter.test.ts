import { describe, expect, it } from "vitest";
import { createReporter } from "./reporter.js";

function shown(options: { quiet?: boolean; verbose?: boolean }): string {
  let text = "";
  const report = createReporter(
    { stdout: { write: () => {} }, stderr: { write: (t: string) => (text += t) } },
    options,
  );
  report({ type: "command", scope: "web", command: "docker compose up" });
  report({ type: "output", scope: "web", stream: "stderr", line: "Container web Started" });
  report({ type: "command", scope: "web", command: "docker image inspect x", detail: true });
  report({ type: "output", scope: "web", stream: "stdout", line: "sha256:abc", detail: true });
  return text;
}

describe("reporter", () => {
  it("shows commands and their output, not kaupang's own look-ups, by default", () => {
    const text = shown({});
    expect(text).toContain("$ docker compose up");
    expect(text).toContain("web │ Container web Started");
    expect(text).not.toContain("docker image inspect");
    expect(text).not.toContain("sha256:abc");
  });

  it("--verbose shows every command with its full output", () => {
    const text = shown({ verbose: true });
    expect(text).toContain("$ docker image inspect x");
    expect(text).toContain("web │ sha256:abc");
    expect(text).toContain("web │ Container web Started");
  });

  it("--quiet shows commands but no output", () => {
    const text = shown({ quiet: true });
    expect(text).toContain("$ docker compose up");
    expect(text).not.toContain("Container web Started");
  });
});
