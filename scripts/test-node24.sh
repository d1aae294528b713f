#!/usr/bin/env bash
# The suite on Node.js 24 LTS, after scripts/test-all.sh's run on the Node.js 20 that is installed (Node 20's
# support ended in April 2026; package.json "engines" names the two that are tested). Node 24 comes from the
# npm registry (node-linux-<arch>@24: the binary and the headers the registry's `node@24` package installs) into
# .ci-node24/ (git-ignored). better-sqlite3, the one native addon built against one Node version's ABI (bufferutil
# and kerberos use Node-API), is rebuilt against Node 24's headers, the suite runs with that node first on PATH
# (so every hub and agent the suites spawn runs on it too), and the addon is rebuilt for the node it was before.
# Arguments go to `vitest run` (e.g. test/suites/relay.test.ts to run one suite). Needs `npm ci` and a build first.
set -euo pipefail
cd "$(dirname "$0")/.."

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) echo "test-node24: no Node.js 24 package for $(uname -m)" >&2; exit 1 ;;
esac
dir="$PWD/.ci-node24"
node24="$dir/node_modules/node-linux-$arch"
if [ ! -x "$node24/bin/node" ]; then
  echo "test-node24: installing Node.js 24 from the npm registry into .ci-node24/"
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund "node-linux-$arch@24"
fi
[ -d "$node24/include/node" ] || { echo "test-node24: $node24 has no include/node headers" >&2; exit 1; }

rebuild() { npm rebuild better-sqlite3 --no-audit --no-fund >/dev/null; }

echo "test-node24: rebuilding better-sqlite3 for $("$node24/bin/node" --version)"
PATH="$node24/bin:$PATH" npm_config_nodedir="$node24" rebuild
restore() {
  echo "test-node24: rebuilding better-sqlite3 back for $(node --version)"
  rebuild
}
trap restore EXIT

# npm_config_nodedir stays set: a suite that runs `npm ci` (fresh-clone.test.ts) builds for Node 24 too.
PATH="$node24/bin:$PATH" npm_config_nodedir="$node24" bash -c '
  echo "test-node24: vitest on $(node --version) ($(command -v node))"
  node node_modules/vitest/vitest.mjs run "$@"
' test-node24 "$@"
