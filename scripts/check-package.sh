#!/usr/bin/env bash
# The package as users install it: `npm pack`, a global install into a temporary prefix (production
# dependencies only), then the installed `dockstack` answers --version and reports a bad manifest
# with a located error and exit 1. Run by .ci/run before the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tgz=$(npm pack --silent --pack-destination "$work" | tail -n 1)
npm install -g --silent --no-audit --no-fund --prefix "$work/prefix" "$work/$tgz"
bin="$work/prefix/bin/dockstack"
lib="$work/prefix/lib/node_modules/dockstack"
for dev in tsx typescript; do   # (@types/node is a production dependency of mysql2 and protobufjs)
  if [[ -e $lib/node_modules/$dev ]]; then echo "check-package: dev dependency $dev was installed" >&2; exit 1; fi
done
if [[ -e $lib/src ]]; then echo "check-package: the package ships src/" >&2; exit 1; fi
while IFS= read -r asset; do   # files the bundle does not hold (dashboard, Lua) must be beside it (scripts/build.mjs)
  [[ -n $(find "$lib/dist/cli" -name "$(basename "$asset")" -print -quit) ]] || { echo "check-package: $asset is missing from dist/cli/" >&2; exit 1; }
done < <(find src -type f ! -name '*.ts')
# validate's code cache (scripts/build.mjs) is made at build time; a package without it still works, slower.
[[ -s $lib/dist/cli/validate-code.cjs.cache ]] || { echo "check-package: dist/cli/validate-code.cjs.cache is missing" >&2; exit 1; }
version=$("$bin" --version)
[[ $version == "$(node -p 'require("./package.json").version')" ]] || { echo "check-package: --version said '$version'" >&2; exit 1; }
printf 'apiVersion: dockstack.io/v1alpha1\nkind: Service\nmetadata: { name: web }\nspec:\n  path: /services/web\n  port: "http"\n' > "$work/bad.yaml"
set +e
"$bin" validate "$work/bad.yaml" 2> "$work/stderr"
code=$?
set -e
[[ $code == 1 ]] || { echo "check-package: validate of a bad manifest exited $code, want 1" >&2; cat "$work/stderr" >&2; exit 1; }
grep -q "^$work/bad.yaml:6:[0-9]* spec.port: " "$work/stderr" || { echo "check-package: no located error:" >&2; cat "$work/stderr" >&2; exit 1; }
echo "check-package: $tgz installs; dockstack $version; bad manifest → $(head -n 1 "$work/stderr")"
