#!/bin/sh
# The whole test suite (what `npm test` runs): the lockfile guard first (2 s; a lockfile `npm ci` would
# refuse fails here, naming the command that regenerates it), lint and format check, type check and
# build (the CLI tests run the built bin), then every vitest test, contract tests included.
set -e
node scripts/check-lockfile.mjs
biome check --error-on-warnings .
tsc -p tsconfig.json --noEmit
tsc -p tsconfig.build.json
vitest run
