import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach } from "vitest";

const made: string[] = [];
afterEach(() => {
  while (made.length > 0) rmSync(made.pop()!, { recursive: true, force: true });
});

/** A temporary directory holding `files` (path → content), removed after the test. */
export function testdir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "kaupang-test-"));
  made.push(dir);
  for (const [path, content] of Object.entries(files)) {
    const file = join(dir, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  return dir;
}

export const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
