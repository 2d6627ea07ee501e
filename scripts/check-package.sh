#!/usr/bin/env bash
# The packaging check (CI runs it): pack the package as `npm publish` would, install the tarball
# into an empty app with the README's install line (from npm's cache where it can), then import
# every entry point with plain `node` and run the installed `pn-presence --help`.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
app="$(mktemp -d)"
trap 'rm -rf "$app"' EXIT

echo "packing…"
tarball="$(cd "$here" && npm pack --silent --pack-destination "$app" | tail -n 1)"
[ -f "$app/$tarball" ] || { echo "npm pack made no tarball"; exit 1; }
tar -tzf "$app/$tarball" > "$app/contents.txt"
grep -q '^package/dist/index.js$' "$app/contents.txt" || { echo "the tarball has no dist/"; exit 1; }
grep -q '^package/dist/bin/pn-presence.js$' "$app/contents.txt" || { echo "the tarball has no bin"; exit 1; }
grep -q '^package/LICENSE$' "$app/contents.txt" || { echo "the tarball has no LICENSE"; exit 1; }

# the README's line, with the package itself taken from the tarball just packed
line="$(grep -m 1 '^npm install effect-pubnub-presence ' "$here/README.md")"
deps="${line#npm install effect-pubnub-presence }"
echo "installing into an empty app: $tarball $deps"
cd "$app"
printf '{ "name": "app", "version": "1.0.0", "type": "module", "private": true }\n' > package.json
# shellcheck disable=SC2086
npm install --prefer-offline --no-audit --no-fund --loglevel=error "./$tarball" $deps

node --input-type=module -e '
  const entries = ["effect-pubnub-presence", "effect-pubnub-presence/emulator", "effect-pubnub-presence/node", "effect-pubnub-presence/undici"]
  for (const entry of entries) {
    const m = await import(entry)
    if (Object.keys(m).length === 0) throw new Error(`${entry} exports nothing`)
    console.log(`import ${entry}: ${Object.keys(m).join(", ")}`)
  }
  try {
    await import("effect-pubnub-presence/internal/request.js")
    throw new Error("internal modules are importable")
  } catch (e) {
    if (e.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw e
    console.log("internal modules stay private")
  }
'
./node_modules/.bin/pn-presence --help | grep -q "pn-presence" || { echo "pn-presence --help printed no help"; exit 1; }
echo "pn-presence --help from the installed bin: ok"

# docs/testing.md's install line must resolve next to it (no Effect 4 test kit)
testing="$(grep -m 1 '^npm install -D @effect/vitest' "$here/docs/testing.md")"
# shellcheck disable=SC2086
npm install --prefer-offline --no-audit --no-fund --loglevel=error ${testing#npm install }
# …and the page's example runs in the app, against the installed package
cp "$here/docs/examples/testing.test.ts" ./presence.test.ts
./node_modules/.bin/vitest run --reporter=dot presence.test.ts > vitest.log 2>&1 || { cat vitest.log; exit 1; }
echo "docs/testing.md: install line and example: ok"
echo "packaging check passed"
