import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

export interface FakePackage {
  name: string;
  version: string;
  os?: string[];
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

interface Published {
  manifest: FakePackage;
  tarball: Buffer;
  integrity: string;
}

/**
 * A real npm registry on 127.0.0.1 serving packuments and tarballs of packages built on the spot,
 * so the installer and the lockfile guard can be run by the real npm while the registry changes
 * under them (`hide` a package, as a mirror without other platforms' builds does; `unhide` it).
 */
export class FakeNpmRegistry {
  private readonly packages = new Map<string, Published>();
  private readonly hidden = new Set<string>();
  private server: Server | undefined;
  url = "";

  constructor(private readonly workDir: string) {}

  publish(pkg: FakePackage): void {
    const dir = join(this.workDir, `${pkg.name}-${pkg.version}`, "package");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
    writeFileSync(join(dir, "index.js"), `module.exports = ${JSON.stringify(pkg.name)};\n`);
    const tgz = join(this.workDir, `${pkg.name}-${pkg.version}.tgz`);
    execFileSync("tar", ["-czf", tgz, "-C", join(dir, ".."), "package"]);
    const tarball = readFileSync(tgz);
    const integrity = `sha512-${createHash("sha512").update(tarball).digest("base64")}`;
    this.packages.set(pkg.name, { manifest: pkg, tarball, integrity });
  }

  hide(name: string): void {
    this.hidden.add(name);
  }

  unhide(name: string): void {
    this.hidden.delete(name);
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const path = decodeURIComponent((req.url ?? "/").split("?")[0] ?? "/").slice(1);
      const tarballMatch = /^(.+)\/-\/.+\.tgz$/.exec(path);
      const name = tarballMatch?.[1] ?? path;
      const pub = this.packages.get(name);
      if (!pub || this.hidden.has(name)) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end('{"error":"Not found"}');
        return;
      }
      if (tarballMatch) {
        res.writeHead(200, { "content-type": "application/octet-stream" });
        res.end(pub.tarball);
        return;
      }
      const { version } = pub.manifest;
      const packument = {
        name,
        "dist-tags": { latest: version },
        versions: {
          [version]: {
            ...pub.manifest,
            dist: { tarball: `${this.url}${name}/-/${name}-${version}.tgz`, integrity: pub.integrity },
          },
        },
      };
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(packument));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
