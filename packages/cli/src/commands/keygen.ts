import { resolve } from "node:path";
import { generateKeyFiles } from "@kaupang/core";
import type { Command } from "commander";
import type { Io } from "../output/io.js";
import { addFlags, type CommonOptions } from "./options.js";

export function registerKeygen(program: Command, io: Io): void {
  const command = program
    .command("keygen")
    .description("make an Ed25519 key pair for signing bundles: <path>.key (private, 0600) and <path>.pub")
    .argument("<path>", "path without extension, e.g. ./keys/site");
  addFlags(command, ["output", "cwd"]);
  command.action((path: string, options: CommonOptions) => {
    const made = generateKeyFiles(resolve(options.cwd ?? process.cwd(), path));
    if (options.output === "json") {
      io.stdout.write(`${JSON.stringify(made, null, 2)}\n`);
      return;
    }
    io.stdout.write(
      [
        `private key: ${made.privateKey} (sign with: kaupang bundle <solution> --sign ${path}.key)`,
        `public key:  ${made.publicKey} (verify with: kaupang up --bundle <dir> --verify ${path}.pub)`,
        `key id:      ${made.keyId}`,
        "",
      ].join("\n"),
    );
  });
}
