import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { testdir } from "../../../../test/support/testdir.js";
import { scanImageArchive } from "./image-archive.js";

/** One ustar entry (regular file). */
function entry(name: string, content: Buffer | string): Buffer {
  const data = Buffer.from(content);
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, "utf8");
  header.write("0000644\0", 100);
  header.write("0000000\0", 108);
  header.write("0000000\0", 116);
  header.write(`${data.length.toString(8).padStart(11, "0")}\0`, 124);
  header.write("00000000000\0", 136);
  header.write("        ", 148);
  header.write("0", 156);
  header.write("ustar\0", 257);
  header.write("00", 263);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  data.copy(padded);
  return Buffer.concat([header, padded]);
}

const tar = (...entries: Buffer[]) => Buffer.concat([...entries, Buffer.alloc(1024)]);
const config = (n: string) => JSON.stringify({ architecture: "amd64", os: "linux", config: { Env: [n] } });
const idOf = (text: string) => createHash("sha256").update(text).digest("hex");

async function scan(bytes: Buffer) {
  const dir = testdir({});
  const path = join(dir, "images.tar");
  writeFileSync(path, bytes);
  const handle = await open(path);
  try {
    return await scanImageArchive(handle, bytes.length, "b/images.tar");
  } finally {
    await handle.close();
  }
}

describe("image archive index", () => {
  it("lists the images by the sha256 of their config, and their tags", async () => {
    const a = config("A=1");
    const b = config("B=1");
    const index = await scan(
      tar(
        entry(`${idOf(a)}.json`, a),
        entry("layer/layer.tar", Buffer.alloc(3000)),
        entry(`blobs/sha256/${idOf(b)}`, b),
        entry(
          "manifest.json",
          JSON.stringify([
            { Config: `${idOf(a)}.json`, RepoTags: null, Layers: [] },
            { Config: `blobs/sha256/${idOf(b)}`, RepoTags: ["db:16"], Layers: [] },
          ]),
        ),
      ),
    );
    expect(index.images).toEqual([
      { id: `sha256:${idOf(a)}`, tags: [] },
      { id: `sha256:${idOf(b)}`, tags: ["db:16"] },
    ]);
    expect(index.otherTags).toEqual([]);
  });

  it("reads tags from the legacy repositories file and an OCI index", async () => {
    const a = config("A=1");
    const index = await scan(
      tar(
        entry(`${idOf(a)}.json`, a),
        entry("manifest.json", JSON.stringify([{ Config: `${idOf(a)}.json`, Layers: [] }])),
        entry("repositories", JSON.stringify({ postgres: { "16": "abc" } })),
        entry(
          "index.json",
          JSON.stringify({
            manifests: [{ annotations: { "io.containerd.image.name": "docker.io/library/redis:7" } }],
          }),
        ),
      ),
    );
    expect(index.otherTags).toEqual(["postgres:16", "docker.io/library/redis:7"]);
  });

  it("refuses a config whose content is not the ID its name claims", async () => {
    const a = config("A=1");
    const fake = "f".repeat(64);
    await expect(
      scan(
        tar(entry(`${fake}.json`, a), entry("manifest.json", JSON.stringify([{ Config: `${fake}.json` }]))),
      ),
    ).rejects.toThrow(
      `b/images.tar: manifest.json [0].Config: ${fake}.json has sha256 ${idOf(a)}, not the ID its name claims`,
    );
  });

  it("refuses what is not a docker save archive", async () => {
    await expect(scan(tar(entry("x.txt", "hi")))).rejects.toThrow("holds no manifest.json");
    await expect(scan(Buffer.alloc(100))).rejects.toThrow("is truncated");
    const broken = tar(entry("manifest.json", "[]"));
    broken[0]! ^= 1;
    await expect(scan(broken)).rejects.toThrow("bad header checksum at byte 0");
    await expect(scan(entry("manifest.json", "[]"))).rejects.toThrow("no end-of-archive marker");
    await expect(scan(tar(entry("manifest.json", "[]"), entry("./manifest.json", "[]")))).rejects.toThrow(
      "holds manifest.json twice",
    );
  });

  it("reads what docker save writes", async () => {
    if (spawnSync("docker", ["version"]).status !== 0) return;
    const image = process.env.KAUPANG_TEST_BASE_IMAGE ?? "kaupang-test/busybox:latest";
    const id = spawnSync("docker", ["image", "inspect", "--format", "{{.Id}}", image], { encoding: "utf8" });
    if (id.status !== 0) return;
    const dir = testdir({});
    const path = join(dir, "images.tar");
    expect(spawnSync("docker", ["save", "-o", path, id.stdout.trim()]).status).toBe(0);
    const handle = await open(path);
    const index = await scanImageArchive(handle, (await handle.stat()).size, "images.tar");
    await handle.close();
    expect(index.images).toEqual([{ id: id.stdout.trim(), tags: [] }]);
  });
});
