import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runProcess } from "../helpers/cli.js";

const CHILD = fileURLToPath(new URL("./fs-child.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface ChildOutcome {
  ok: boolean;
  code?: string;
  message?: string;
}

function outcome(stdout: string, stderr: string): ChildOutcome {
  const line = stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line) as ChildOutcome;
  } catch {
    throw new Error(`the child printed no outcome: ${stdout}${stderr}`);
  }
}

/** Runs fs-child.ts with the file size limit of `sh`'s `ulimit -f <blocks>` (512 or 1024-byte blocks). */
export async function runLimited(blocks: number, args: string[]): Promise<ChildOutcome> {
  const r = await runProcess(
    "sh",
    ["-c", `ulimit -f ${blocks} && exec "$0" "$@"`, process.execPath, "--import", "tsx", CHILD, ...args],
    { cwd: ROOT },
  );
  return outcome(r.stdout, r.stderr);
}

/** Whether strace can trace a child here (installed, and ptrace allowed). */
export const straceWorks = (() => {
  const r = spawnSync("strace", ["-f", "-qq", "-e", "trace=none", "true"], { stdio: "ignore" });
  return r.status === 0;
})();

export interface FsOp {
  op: "fsync" | "rename";
  /** fsync: the path the descriptor was opened on; rename: the source. */
  path: string;
  to?: string;
}

/** Runs fs-child.ts under strace and returns its fsyncs and renames in order, with paths. */
export async function traceFsOps(traceDir: string, args: string[]): Promise<{ ops: FsOp[]; outcome: ChildOutcome }> {
  const log = join(traceDir, `strace-${Date.now()}.log`);
  const r = await runProcess(
    "strace",
    [
      "-f",
      "-qq",
      "-o",
      log,
      "-e",
      "trace=open,openat,fsync,fdatasync,rename,renameat,renameat2",
      "-e",
      "signal=none",
      process.execPath,
      "--import",
      "tsx",
      CHILD,
      ...args,
    ],
    { cwd: ROOT },
  );
  return { ops: parseTrace(await readFile(log, "utf8")), outcome: outcome(r.stdout, r.stderr) };
}

/** strace -f lines (joining "<unfinished …>" / "<… resumed>" halves) → fsyncs and renames with paths. */
function parseTrace(text: string): FsOp[] {
  const pending = new Map<string, string>();
  const fds = new Map<number, string>();
  const ops: FsOp[] = [];
  for (const raw of text.split("\n")) {
    const m = /^(\d+)\s+(.*)$/.exec(raw);
    if (!m) continue;
    const [, pid, rest] = m as unknown as [string, string, string];
    let call = rest;
    if (call.endsWith("<unfinished ...>")) {
      // strace writes "fsync(23 <unfinished ...>" then "<... fsync resumed>) = 0": drop the space, or the
      // rejoined call reads "fsync(23 ) = 0" (seen under load, when calls of two threads interleave).
      pending.set(pid, call.slice(0, -"<unfinished ...>".length).trimEnd());
      continue;
    }
    const resumed = /^<\.\.\. \w+ resumed>(.*)$/.exec(call);
    if (resumed) {
      call = (pending.get(pid) ?? "") + (resumed[1] as string);
      pending.delete(pid);
    }
    const opened = /^open(?:at)?\((?:AT_FDCWD, )?"([^"]+)".*\)\s+=\s+(\d+)/.exec(call);
    if (opened) fds.set(Number(opened[2]), opened[1] as string);
    const synced = /^f(?:data)?sync\((\d+)\)\s+=\s+0/.exec(call);
    if (synced) ops.push({ op: "fsync", path: fds.get(Number(synced[1])) ?? `fd ${synced[1]}` });
    const renamed = /^rename(?:at2?)?\((?:AT_FDCWD, )?"([^"]+)", (?:AT_FDCWD, )?"([^"]+)".*\)\s+=\s+0/.exec(call);
    if (renamed) ops.push({ op: "rename", path: renamed[1] as string, to: renamed[2] as string });
  }
  return ops;
}
