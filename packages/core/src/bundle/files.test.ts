import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { testdir } from "../../../../test/support/testdir.js";
import { hashChecked, openInside, readChecked, unsafePath } from "./files.js";

const sha = (bytes: Buffer | string) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

describe("bundle paths", () => {
  it("accepts plain relative paths and names what is wrong with the others", () => {
    expect(unsafePath("plan.json")).toBeUndefined();
    expect(unsafePath("artifacts/app.compose.wave1.yaml")).toBeUndefined();
    expect(unsafePath("/dev/zero")).toBe("is absolute");
    expect(unsafePath("artifacts/../../x")).toBe('leaves the bundle ("..")');
    expect(unsafePath("../../../../outside/x")).toBe('leaves the bundle ("..")');
    expect(unsafePath("a//b")).toBe("is not a plain relative path");
    expect(unsafePath("./plan.json")).toBe("is not a plain relative path");
    expect(unsafePath("a\\b")).toBe("contains a backslash");
    expect(unsafePath("a\0b")).toBe("contains a NUL character");
    expect(unsafePath("")).toBe("is empty");
    expect(unsafePath("a/.hidden")).toMatch(/segment ".hidden"/);
  });
});

describe("openInside", () => {
  it("reads a regular file and its digest", async () => {
    const dir = testdir({ "artifacts/app.yaml": "services: {}\n" });
    const read = await readChecked(await openInside(dir, "artifacts/app.yaml", 1024, "b/bundle.json: files"));
    expect(read.bytes.toString()).toBe("services: {}\n");
    expect(read.digest).toBe(sha("services: {}\n"));
  });

  it("refuses a symlinked file, even to a file inside the bundle", async () => {
    const dir = testdir({ "plan.json": "{}", "outside.txt": "secret" });
    symlinkSync(join(dir, "outside.txt"), join(dir, "link.json"));
    await expect(openInside(dir, "link.json", 1024, "b/bundle.json: files")).rejects.toThrow(
      'b/bundle.json: files: "link.json" is a symlink; a bundle holds regular files only; refused',
    );
  });

  it("refuses a symlinked directory on the way", async () => {
    const dir = testdir({ "real/app.yaml": "x" });
    symlinkSync(join(dir, "real"), join(dir, "artifacts"));
    await expect(openInside(dir, "artifacts/app.yaml", 1024, "w")).rejects.toThrow(
      'w: "artifacts" is a symlink, not a directory; refused',
    );
  });

  it("refuses devices and FIFOs without opening them", async () => {
    const dir = testdir({});
    symlinkSync("/dev/zero", join(dir, "zero"));
    await expect(openInside(dir, "zero", 1024, "w")).rejects.toThrow('"zero" is a symlink');
    const fifo = spawnSync("mkfifo", [join(dir, "pipe")]);
    if (fifo.status === 0)
      await expect(openInside(dir, "pipe", 1024, "w")).rejects.toThrow('"pipe" is a FIFO');
    const node = spawnSync("mknod", [join(dir, "null"), "c", "1", "3"]);
    if (node.status === 0)
      await expect(openInside(dir, "null", 1024, "w")).rejects.toThrow('"null" is a device');
  });

  it("refuses a file over its bound before reading it", async () => {
    const dir = testdir({});
    writeFileSync(join(dir, "big.yaml"), Buffer.alloc(2048));
    await expect(openInside(dir, "big.yaml", 1024, "w")).rejects.toThrow(
      '"big.yaml" is 2.0 KiB, over the 1.0 KiB limit; refused',
    );
  });

  it("refuses a missing file and a path that leaves the bundle", async () => {
    const dir = testdir({});
    mkdirSync(join(dir, "artifacts"));
    await expect(openInside(dir, "artifacts/app.yaml", 1024, "w")).rejects.toThrow(
      '"artifacts/app.yaml" is missing',
    );
    await expect(openInside(dir, "../etc/passwd", 1024, "w")).rejects.toThrow("leaves the bundle");
  });

  it("streams the same sha256 as a one-shot hash, across block boundaries", async () => {
    const dir = testdir({});
    for (const size of [0, 1, 4 * 1024 * 1024 - 1, 4 * 1024 * 1024, 9 * 1024 * 1024 + 7]) {
      const bytes = Buffer.alloc(size);
      for (let i = 0; i < size; i += 4096) bytes[i] = (i / 4096) & 0xff;
      writeFileSync(join(dir, "images.tar"), bytes);
      expect(await hashChecked(await openInside(dir, "images.tar", 1 << 30, "w"))).toBe(sha(bytes));
    }
  });
});
