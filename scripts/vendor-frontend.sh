#!/usr/bin/env bash
# Reproducibly vendor the front-end assets that the product and its browser
# tests use. The output is committed, so installing or running the product
# never needs npm: run this only to upgrade or rebuild the vendored files.
#
#   bash scripts/vendor-frontend.sh
#
# Needs node + npm (reaching the npm registry). Everything is installed into a
# temporary directory that is removed afterwards.
#
# Section 1: govuk-frontend, compiled from its Sass with a system font stack
#            (we are not on service.gov.uk, so no GDS Transport font) into
#            templates/static/govuk/.
# Section 2: axe-core's axe.min.js into tests/browser/vendor/.
set -euo pipefail

GOVUK_FRONTEND_VERSION="6.3.0"
SASS_VERSION="1.108.2"
AXE_CORE_VERSION="4.14.1"
# URL prefix under which the app serves templates/static/govuk/assets/
# (the app mounts templates/static at /static).
ASSETS_URL_PATH="/static/govuk/assets/"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
govuk_out="$repo_root/templates/static/govuk"
axe_out="$repo_root/tests/browser/vendor"

work="$(mktemp -d)"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

echo "Installing govuk-frontend@$GOVUK_FRONTEND_VERSION sass@$SASS_VERSION axe-core@$AXE_CORE_VERSION into $work"
(
  cd "$work"
  printf '{"name":"vendor-frontend","private":true}\n' > package.json
  npm install --no-audit --no-fund --ignore-scripts --save-exact --loglevel=error \
    "govuk-frontend@$GOVUK_FRONTEND_VERSION" \
    "sass@$SASS_VERSION" \
    "axe-core@$AXE_CORE_VERSION"
)

# Check that npm gave us exactly what we pinned.
installed_version() { node -p "require('$work/node_modules/$1/package.json').version"; }
for pin in "govuk-frontend=$GOVUK_FRONTEND_VERSION" "sass=$SASS_VERSION" "axe-core=$AXE_CORE_VERSION"; do
  name="${pin%%=*}"; want="${pin#*=}"; got="$(installed_version "$name")"
  if [[ "$got" != "$want" ]]; then
    echo "error: $name is $got, expected $want" >&2
    exit 1
  fi
done

# ---------------------------------------------------------------------------
# Section 1: govuk-frontend
# ---------------------------------------------------------------------------
gf="$work/node_modules/govuk-frontend/dist/govuk"

cat > "$work/govuk.scss" <<SCSS
// Settings names from govuk-frontend $GOVUK_FRONTEND_VERSION dist/govuk/settings/
// (_typography-font.scss and _assets.scss).
@use "govuk-frontend/dist/govuk" with (
  \$govuk-font-family: (system-ui, arial, sans-serif),
  \$govuk-include-default-font-face: false,
  \$govuk-assets-path: "$ASSETS_URL_PATH"
);
SCSS

rm -rf "$govuk_out"
mkdir -p "$govuk_out/assets"

echo "Compiling govuk-frontend Sass"
"$work/node_modules/.bin/sass" \
  --load-path="$work/node_modules" \
  --style=compressed \
  --no-source-map \
  --quiet-deps \
  "$work/govuk.scss" "$govuk_out/govuk-frontend.min.css"

# The ES module bundle; drop its sourceMappingURL comment because we do not
# ship the .map file (it would only produce 404s in browser dev tools).
sed -e 's|//# sourceMappingURL=[^ ]*$||' "$gf/govuk-frontend.min.js" > "$govuk_out/govuk-frontend.min.js"

# Images and the web app manifest; the fonts are not needed with a system font.
cp -R "$gf/assets/images" "$govuk_out/assets/images"
cp "$gf/assets/manifest.json" "$govuk_out/assets/manifest.json"

# The npm package ships no LICENSE file (its package.json says "MIT" and its
# README says the codebase is MIT licensed); this is the LICENSE.txt of the
# govuk-frontend source repository.
cat > "$govuk_out/LICENSE.txt" <<'LICENSE'
The MIT License (MIT)

Copyright (C) 2017 Crown Copyright (Government Digital Service)

Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
LICENSE

cat > "$govuk_out/VERSION.txt" <<VERSION
govuk-frontend $GOVUK_FRONTEND_VERSION (npm package "govuk-frontend", MIT licence: LICENSE.txt)

Built by scripts/vendor-frontend.sh (do not edit these files by hand):
- govuk-frontend.min.css: compiled from dist/govuk/index.scss with sass $SASS_VERSION
  (--style=compressed, no source map) and these settings:
    \$govuk-font-family: (system-ui, arial, sans-serif)
    \$govuk-include-default-font-face: false
    \$govuk-assets-path: "$ASSETS_URL_PATH"
  i.e. no GDS Transport font (this service is not on service.gov.uk).
- govuk-frontend.min.js: dist/govuk/govuk-frontend.min.js (ES module), with its
  sourceMappingURL comment removed.
- assets/: dist/govuk/assets/images/ and dist/govuk/assets/manifest.json;
  the fonts/ folder is deliberately left out.
VERSION

# ---------------------------------------------------------------------------
# Section 2: axe-core (for the browser accessibility tests only)
# ---------------------------------------------------------------------------
axe="$work/node_modules/axe-core"
mkdir -p "$axe_out"
cp "$axe/axe.min.js" "$axe_out/axe.min.js"
cp "$axe/LICENSE" "$axe_out/axe-core-LICENSE.txt"
if [[ -f "$axe/LICENSE-3RD-PARTY.txt" ]]; then
  cp "$axe/LICENSE-3RD-PARTY.txt" "$axe_out/axe-core-LICENSE-3RD-PARTY.txt"
fi
printf 'axe-core %s (npm package "axe-core", MPL-2.0: axe-core-LICENSE.txt)\nVendored by scripts/vendor-frontend.sh\n' \
  "$AXE_CORE_VERSION" > "$axe_out/axe-core-VERSION.txt"

echo "Done:"
find "$govuk_out" "$axe_out" -type f | sort | sed "s|^$repo_root/|  |"
