import { createBundle } from "@kaupang/core";
import type { Command } from "commander";
import type { Io } from "../output/io.js";
import { createReporter } from "../output/reporter.js";
import { version } from "../version.js";
import { addFlags, type CommonOptions } from "./options.js";

interface BundleFlags extends CommonOptions {
  withImages?: boolean;
  push?: string;
  out?: string;
  resolve?: boolean;
  sign?: string;
}

export function registerBundle(program: Command, io: Io): void {
  const command = program
    .command("bundle")
    .description("pack a solution into a portable, fully pinned bundle (for air-gapped sites)")
    .argument("<solution>", "solution to bundle")
    .option("--with-images", "save the images into the bundle (one docker save: shared layers once)")
    .option("--push <oci://ref>", "publish the bundle as one OCI artifact (oras)")
    .option("-o, --out <dir>", "bundle directory (default ./<solution>.bundle)")
    .option("--resolve", "resolve image tags to registry digests (the default)")
    .option("--no-resolve", "do not resolve tags (local builds are pinned by image ID)")
    .option(
      "--sign <key>",
      "sign the manifest digest with this Ed25519 private key (PEM); writes bundle.sig",
    );
  addFlags(command, ["target", "backend", "output", "quiet", "verbose", "cwd"]);
  command.action(async (solution: string, options: BundleFlags) => {
    const result = await createBundle({
      cwd: options.cwd,
      solution,
      target: options.target,
      backend: options.backend,
      withImages: options.withImages,
      push: options.push,
      out: options.out,
      resolve: options.resolve !== false,
      events: createReporter(io, options),
      kaupangVersion: version,
      sign: options.sign,
    });
    if (options.output === "json") {
      io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    const m = result.manifest;
    io.stdout.write(
      [
        `bundle ${m.solution.name}@${m.solution.version} for target ${m.target} (${m.backend}): ${m.environmentOrder.join(" → ")}`,
        ...(result.directory ? [`  directory: ${result.directory}`] : []),
        ...(result.pushed ? [`  pushed:    ${result.pushed}`] : []),
        `  manifest:  ${result.manifestDigest}`,
        ...(result.signature ? [`  signed:    key ${result.signature.keyId}`] : []),
        `  images:    ${imageSummary(m)}`,
        "",
      ].join("\n"),
    );
  });
}

/** How the bundle's images reach the site: carried in it, pinned by digest, or (--no-resolve) as written. */
function imageSummary(m: { images: { digest?: string | undefined }[]; withImages: boolean }): string {
  if (m.withImages) return `${m.images.length} (carried in images.tar)`;
  const pinned = m.images.filter((i) => i.digest !== undefined).length;
  const unpinned = m.images.length - pinned;
  const parts = [
    ...(pinned > 0 ? [`${pinned} pinned by digest`] : []),
    ...(unpinned > 0 ? [`${unpinned} as written, not pinned (--no-resolve)`] : []),
  ];
  return `${m.images.length} (${parts.join(", ") || "none"}; the site pulls them)`;
}
