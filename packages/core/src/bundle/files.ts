/**
 * A bundle's files read as untrusted data. A path is relative, made of plain
 * segments (no `..`, no absolute path, no backslash), every directory on the
 * way is a real directory and the file a regular file — checked with lstat
 * and opened with O_NOFOLLOW, so no symlink, device or FIFO is ever followed
 * or opened. Sizes are bounded before anything is read, and hashes are
 * streamed from the file descriptor that was checked.
 */
import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, lstat, open } from "node:fs/promises";
import { join } from "node:path";
import { KaupangError } from "../base/errors.js";

const MiB = 1024 * 1024;

/** Upper bounds for what a bundle may hold; a file over its bound is refused before it is read. */
export const bundleLimits = {
  /** bundle.json */
  manifest: 4 * MiB,
  /** bundle.sig */
  signature: 64 * 1024,
  /** plan.json and each artifact */
  text: 32 * MiB,
  /** images.tar: `KAUPANG_BUNDLE_MAX_IMAGES` (bytes) raises or lowers it. */
  images: 64 * 1024 * MiB,
  /** entries in the manifest's file list */
  files: 10_000,
};

export function imagesLimit(env: NodeJS.ProcessEnv = process.env): number {
  const given = Number(env.KAUPANG_BUNDLE_MAX_IMAGES);
  return Number.isSafeInteger(given) && given > 0 ? given : bundleLimits.images;
}

const formatBytes = (bytes: number): string =>
  bytes >= MiB
    ? `${(bytes / MiB).toFixed(1)} MiB`
    : bytes >= 1024
      ? `${(bytes / 1024).toFixed(1)} KiB`
      : `${bytes} B`;

/** A refusal naming the bundle file and the field, on one line. */
export function bundleError(code: string, where: string, message: string, hint?: string): KaupangError {
  return new KaupangError(code, `${where}: ${message}`, {
    hint: hint ?? "the bundle was refused before anything ran; nothing was deployed",
  });
}

const segment = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$/;

/** Why `path` is not a plain relative path inside a bundle, or undefined if it is. */
export function unsafePath(path: string): string | undefined {
  if (path.length === 0) return "is empty";
  if (path.length > 1024) return "is longer than 1024 characters";
  if (path.startsWith("/")) return "is absolute";
  if (path.includes("\\")) return "contains a backslash";
  if (path.includes("\0")) return "contains a NUL character";
  for (const part of path.split("/")) {
    if (part === "..") return 'leaves the bundle ("..")';
    if (part === "" || part === ".") return "is not a plain relative path";
    if (!segment.test(part))
      return `has a segment ${JSON.stringify(part)} that is not letters, digits, ".", "_" or "-"`;
  }
  return undefined;
}

interface CheckedFile {
  handle: FileHandle;
  size: number;
}

function kindOf(stat: Awaited<ReturnType<typeof lstat>>): string {
  if (stat.isSymbolicLink()) return "a symlink";
  if (stat.isDirectory()) return "a directory";
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return "a device";
  if (stat.isFIFO()) return "a FIFO";
  if (stat.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * Open `path` inside `dir` for reading, refusing anything but a regular file
 * reached through real directories, and a size over `limit`. `where` names
 * the file and field in errors (`hostile.bundle/bundle.json: files["x"]`).
 */
export async function openInside(
  dir: string,
  path: string,
  limit: number,
  where: string,
): Promise<CheckedFile> {
  const bad = unsafePath(path);
  if (bad) throw bundleError("ERR_BUNDLE_PATH", where, `path ${JSON.stringify(path)} ${bad}; refused`);
  const parts = path.split("/");
  let current = dir;
  for (const [i, part] of parts.entries()) {
    current = join(current, part);
    let stat: Awaited<ReturnType<typeof lstat>>;
    try {
      stat = await lstat(current);
    } catch {
      throw bundleError("ERR_BUNDLE_TAMPERED", where, `${JSON.stringify(path)} is missing; refused`);
    }
    const last = i === parts.length - 1;
    if (!last && !stat.isDirectory())
      throw bundleError(
        "ERR_BUNDLE_PATH",
        where,
        `${JSON.stringify(parts.slice(0, i + 1).join("/"))} is ${kindOf(stat)}, not a directory; refused`,
      );
    if (last && !stat.isFile())
      throw bundleError(
        "ERR_BUNDLE_PATH",
        where,
        `${JSON.stringify(path)} is ${kindOf(stat)}; a bundle holds regular files only; refused`,
      );
    if (last && stat.size > limit)
      throw bundleError(
        "ERR_BUNDLE_SIZE",
        where,
        `${JSON.stringify(path)} is ${formatBytes(stat.size)}, over the ${formatBytes(limit)} limit; refused`,
      );
  }
  // O_NOFOLLOW and O_NONBLOCK: a file swapped for a symlink or FIFO since lstat is not followed or waited on.
  let handle: FileHandle;
  try {
    handle = await open(current, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    throw bundleError(
      "ERR_BUNDLE_PATH",
      where,
      `${JSON.stringify(path)} cannot be opened as a regular file (${(error as NodeJS.ErrnoException).code}); refused`,
    );
  }
  const stat = await handle.stat();
  if (!stat.isFile() || stat.size > limit) {
    await handle.close();
    throw bundleError(
      "ERR_BUNDLE_PATH",
      where,
      `${JSON.stringify(path)} changed while it was checked; refused`,
    );
  }
  return { handle, size: stat.size };
}

/** Read a checked file whole (text files are bounded), with its sha256. */
export async function readChecked(file: CheckedFile): Promise<{ bytes: Buffer; digest: string }> {
  try {
    const bytes = Buffer.alloc(file.size);
    let at = 0;
    while (at < file.size) {
      const { bytesRead } = await file.handle.read(bytes, at, file.size - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    if (at !== file.size) throw new Error("short read");
    return { bytes, digest: `sha256:${createHash("sha256").update(bytes).digest("hex")}` };
  } finally {
    await file.handle.close();
  }
}

const chunk = 4 * MiB;

/**
 * sha256 of a checked file, streamed: the next block is read while the
 * current one is hashed (two buffers), so a large archive costs about one
 * pass of the disk or the hash, whichever is slower. Reads no more than the
 * size that was checked.
 */
export async function hashChecked(file: CheckedFile): Promise<string> {
  const hash = createHash("sha256");
  const buffers = [Buffer.allocUnsafe(chunk), Buffer.allocUnsafe(chunk)];
  try {
    let position = 0;
    let turn = 0;
    let pending = file.size > 0 ? file.handle.read(buffers[0]!, 0, Math.min(chunk, file.size), 0) : undefined;
    while (pending && position < file.size) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      const current = buffers[turn]!;
      position += bytesRead;
      turn ^= 1;
      if (position < file.size)
        pending = file.handle.read(buffers[turn]!, 0, Math.min(chunk, file.size - position), position);
      hash.update(current.subarray(0, bytesRead));
    }
    return `sha256:${hash.digest("hex")}`;
  } finally {
    await file.handle.close();
  }
}

/** Decode bytes as UTF-8, refusing anything that is not. */
export function utf8(bytes: Buffer, where: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw bundleError("ERR_BUNDLE_INVALID", where, "is not UTF-8 text; refused");
  }
}
