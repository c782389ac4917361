import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

/** Write a file atomically (temp file + rename), creating its directory. */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temp, content);
  await rename(temp, path);
}
