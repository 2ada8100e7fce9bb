#!/usr/bin/env bash
# The full test suite: type-check, schemas fresh, then every test file (listed explicitly: Node 20's
# runner has no globs), one file at a time since files start their own real servers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npx tsc --noEmit
node --import tsx scripts/gen-schemas.ts --check
mapfile -t files < <(find test -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency=1 --test-timeout=300000 "${files[@]}"
