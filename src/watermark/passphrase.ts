import { createInterface } from "node:readline";
import { ProvmarkError } from "../errors.js";

/**
 * The key passphrase: PROVMARK_PASSPHRASE, else asked on the terminal with echo off (twice when
 * `confirm`). Never logged. Without either, a coded error explains how to provide it.
 */
export async function getPassphrase({
  confirm = false,
  envVar = "PROVMARK_PASSPHRASE",
  label = "key",
}: {
  confirm?: boolean;
  /** Environment variable read first (keystores use their own). */
  envVar?: string;
  /** What the passphrase unlocks, for the prompt and messages. */
  label?: string;
} = {}): Promise<string> {
  const env = process.env[envVar];
  if (env !== undefined && env !== "") {
    if (confirm && env.length < 8) {
      throw new ProvmarkError("USAGE", `${envVar} must have at least 8 characters for a new ${label}`, {
        subject: envVar,
      });
    }
    return env;
  }
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new ProvmarkError("KEY_PASSPHRASE_MISSING", `no passphrase for the ${label} file`, {
      subject: envVar,
      hints: [`Set ${envVar} (e.g. from your CI secret store), or run in a terminal to be asked.`],
    });
  }
  const first = await ask(`${label} passphrase: `);
  if (first.length < 8) {
    throw new ProvmarkError("USAGE", "the passphrase must have at least 8 characters", { subject: "passphrase" });
  }
  if (confirm && (await ask("repeat passphrase: ")) !== first) {
    throw new ProvmarkError("USAGE", "the passphrases differ", { subject: "passphrase" });
  }
  return first;
}

function ask(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const out = rl as unknown as { _writeToOutput: (s: string) => void; output: NodeJS.WriteStream };
    out._writeToOutput = (s: string) => {
      // echo the prompt, hide what is typed
      if (s.includes(prompt)) out.output.write(prompt);
    };
    rl.question(prompt, (answer) => {
      rl.close();
      process.stderr.write("\n");
      resolve(answer);
    });
  });
}
