#!/bin/sh
# Installs exactly what package-lock.json pins. `npm ci` first; npm 11 writes lockfiles without the
# optional native builds of other platforms (npm/cli#4828, #8320), and a registry mirror that lacks
# those builds makes `npm ci` refuse such a lockfile ("Missing: ... from lock file"). Then we fall back
# to `npm install`, which honours the lockfile, and fail if it had to change it, as `npm ci` would.
set -eu
log="$(mktemp)"
trap 'rm -f "$log" "$log.lock"' EXIT
if npm ci --no-audit --no-fund >"$log" 2>&1; then
  grep -v '^npm warn' "$log" || true
  exit 0
fi
if ! grep -q "Missing: .* from lock file" "$log"; then
  cat "$log" >&2
  exit 1
fi
echo "install: npm ci refused the lockfile's platform-specific optional entries; using npm install with the same lockfile"
cp package-lock.json "$log.lock"
npm install --no-audit --no-fund
if ! cmp -s package-lock.json "$log.lock"; then
  cp "$log.lock" package-lock.json
  echo "install: package-lock.json is out of sync with package.json (npm install wanted to change it); run npm install and commit the lockfile" >&2
  exit 1
fi
