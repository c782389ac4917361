import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

/** sha256 of a file's bytes, streamed (image archives are large). */
export function fileDigest(path: string): Promise<string> {
  return new Promise((done, reject) => {
    const hash = createHash("sha256");
    createReadStream(path)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => done(`sha256:${hash.digest("hex")}`));
  });
}
