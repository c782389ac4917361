/**
 * What a `docker save` archive would do to the engine, read before it is
 * loaded: which images it holds (by the sha256 of their config, which is the
 * image ID `docker load` creates) and which tags it would set. Only the tar
 * headers and the small index files are read; layers are skipped by offset.
 *
 * kaupang saves images by ID, so its archives carry no tags. An archive that
 * names a tag (manifest.json RepoTags, the legacy `repositories` file, an OCI
 * index's image-name annotations) is refused before loading, so loading can
 * never move a local tag.
 */
import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { bundleError } from "./files.js";

const block = 512;
const indexLimit = 4 * 1024 * 1024;

interface ArchiveImage {
  /** sha256:… of the config blob: the image ID docker load creates. */
  id: string;
  /** Tags the archive asks docker load to set for it. */
  tags: string[];
}

interface ArchiveIndex {
  images: ArchiveImage[];
  /** Tags named outside manifest.json (legacy `repositories`, OCI index annotations). */
  otherTags: string[];
}

function text(header: Buffer, from: number, length: number): string {
  const field = header.subarray(from, from + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString("utf8");
}

function numeric(header: Buffer, from: number, length: number): number {
  const field = header.subarray(from, from + length);
  if (field[0]! & 0x80) {
    // base-256 (GNU/star) for sizes over 8 GiB
    let value = 0;
    for (let i = 1; i < length; i++) value = value * 256 + field[i]!;
    return value;
  }
  const digits = text(header, from, length).trim();
  return digits === "" ? 0 : Number.parseInt(digits, 8);
}

function checksumOk(header: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < block; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
  return sum === numeric(header, 148, 8);
}

function paxRecords(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(32, at);
    if (space === -1) break;
    const length = Number.parseInt(data.subarray(at, space).toString("ascii"), 10);
    if (!Number.isSafeInteger(length) || length <= 0) break;
    const record = data.subarray(space + 1, at + length - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    at += length;
  }
  return out;
}

/** Read the archive's headers and index files; `where` names the archive in errors. */
export async function scanImageArchive(
  handle: FileHandle,
  size: number,
  where: string,
): Promise<ArchiveIndex> {
  const header = Buffer.alloc(block);
  const wanted = new Map<string, Buffer>();
  const configs = new Map<string, { offset: number; size: number }>();
  const seen = new Set<string>();
  let offset = 0;
  let longName: string | undefined;
  let pax: Record<string, string> = {};
  const fail = (message: string) => bundleError("ERR_BUNDLE_IMAGES", where, message);
  const readData = async (at: number, length: number): Promise<Buffer> => {
    const data = Buffer.alloc(length);
    const { bytesRead } = await handle.read(data, 0, length, at);
    if (bytesRead !== length) throw fail(`is truncated at byte ${at}; refused`);
    return data;
  };
  for (;;) {
    if (offset + block > size) throw fail(`is truncated: no end-of-archive marker; refused`);
    const { bytesRead } = await handle.read(header, 0, block, offset);
    if (bytesRead !== block) throw fail(`is truncated at byte ${offset}; refused`);
    if (header.every((b) => b === 0)) break;
    if (!checksumOk(header))
      throw fail(`is not a tar archive (bad header checksum at byte ${offset}); refused`);
    const type = String.fromCharCode(header[156]!);
    const ustar = text(header, 257, 6) === "ustar";
    let name = text(header, 0, 100);
    if (ustar && text(header, 345, 155)) name = `${text(header, 345, 155)}/${name}`;
    let entrySize = numeric(header, 124, 12);
    if (type !== "x" && type !== "g" && type !== "L" && type !== "K") {
      if (longName !== undefined) name = longName;
      if (pax.path !== undefined) name = pax.path;
      if (pax.size !== undefined) entrySize = Number(pax.size);
    }
    if (!Number.isSafeInteger(entrySize) || entrySize < 0)
      throw fail(`has an entry of unreadable size at byte ${offset}; refused`);
    const dataAt = offset + block;
    if (dataAt + entrySize > size) throw fail(`is truncated inside an entry at byte ${offset}; refused`);
    if (type === "x" || type === "L") {
      if (entrySize > 1024 * 1024) throw fail(`has an oversized extended header at byte ${offset}; refused`);
      const data = await readData(dataAt, entrySize);
      if (type === "x") pax = paxRecords(data);
      else longName = data.toString("utf8").replace(/\0+$/, "");
    } else if (type !== "g" && type !== "K") {
      const path = name.replace(/^(\.\/)+/, "");
      longName = undefined;
      pax = {};
      if (type === "0" || type === "\0") {
        if (path === "manifest.json" || path === "repositories" || path === "index.json") {
          if (seen.has(path)) throw fail(`holds ${path} twice; refused`);
          if (entrySize > indexLimit) throw fail(`${path} is over ${indexLimit} bytes; refused`);
          wanted.set(path, await readData(dataAt, entrySize));
        }
        seen.add(path);
        configs.set(path, { offset: dataAt, size: entrySize });
      }
    }
    offset = dataAt + Math.ceil(entrySize / block) * block;
  }

  const manifestBytes = wanted.get("manifest.json");
  if (!manifestBytes)
    throw fail("holds no manifest.json (not a `docker save` archive kaupang made); refused");
  let manifest: unknown;
  try {
    manifest = JSON.parse(manifestBytes.toString("utf8"));
  } catch {
    throw fail("manifest.json is not JSON; refused");
  }
  if (!Array.isArray(manifest)) throw fail("manifest.json is not a list of images; refused");
  const images: ArchiveImage[] = [];
  for (const [i, entry] of manifest.entries()) {
    const config = (entry as { Config?: unknown })?.Config;
    const tags = (entry as { RepoTags?: unknown })?.RepoTags ?? [];
    const id =
      typeof config === "string"
        ? /^(?:([0-9a-f]{64})\.json|blobs\/sha256\/([0-9a-f]{64}))$/.exec(config)
        : null;
    if (!id)
      throw fail(`manifest.json [${i}].Config: ${JSON.stringify(config)} is not a config blob name; refused`);
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== "string"))
      throw fail(`manifest.json [${i}].RepoTags: is not a list of names; refused`);
    const hex = id[1] ?? id[2]!;
    const blob = configs.get(config as string);
    if (!blob) throw fail(`manifest.json [${i}].Config: ${config} is not in the archive; refused`);
    if (blob.size > indexLimit)
      throw fail(`manifest.json [${i}].Config: ${config} is over ${indexLimit} bytes; refused`);
    const digest = createHash("sha256")
      .update(await readData(blob.offset, blob.size))
      .digest("hex");
    if (digest !== hex)
      throw fail(
        `manifest.json [${i}].Config: ${config} has sha256 ${digest}, not the ID its name claims; refused`,
      );
    images.push({ id: `sha256:${hex}`, tags: tags as string[] });
  }

  const otherTags: string[] = [];
  const repositories = wanted.get("repositories");
  if (repositories && repositories.length > 0) {
    try {
      const repos = JSON.parse(repositories.toString("utf8")) as Record<string, Record<string, string>>;
      for (const [repo, tags] of Object.entries(repos ?? {}))
        for (const tag of Object.keys(tags ?? {})) otherTags.push(`${repo}:${tag}`);
    } catch {
      throw fail("repositories is not JSON; refused");
    }
  }
  const index = wanted.get("index.json");
  if (index) {
    try {
      const parsed = JSON.parse(index.toString("utf8")) as {
        manifests?: { annotations?: Record<string, string> }[];
      };
      for (const m of parsed.manifests ?? []) {
        const named =
          m.annotations?.["io.containerd.image.name"] ?? m.annotations?.["org.opencontainers.image.ref.name"];
        if (named) otherTags.push(named);
      }
    } catch {
      throw fail("index.json is not JSON; refused");
    }
  }
  return { images, otherTags };
}
