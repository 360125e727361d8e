#!/usr/bin/env bash
# The control panel's browser assets: uPlot from the npm registry, exactly as package-lock.json pins it
# (`npm ci`), copied into src/cdnpanel/static/vendor/ where the panel serves it. Idempotent: runs npm only
# when the lockfile changed or the built files are missing. The built files are not committed.
source "$(dirname "$0")/lib.sh"

frontend="$REPO_ROOT/src/cdnpanel/frontend"
vendor="$REPO_ROOT/src/cdnpanel/static/vendor"
stamp="$vendor/.built-$(sha256sum "$frontend/package-lock.json" | cut -c1-16)"
if [ -f "$stamp" ] && [ -f "$vendor/uPlot.iife.min.js" ] && [ -f "$vendor/uPlot.min.css" ]; then
  echo "panel-assets: up to date"
  exit 0
fi
command -v npm >/dev/null || { echo "panel-assets: npm is needed (Debian: apt-get install npm)" >&2; exit 1; }
step "panel assets (npm ci)"
(cd "$frontend" && npm ci --no-audit --no-fund --loglevel=error)
mkdir -p "$vendor"
cp "$frontend/node_modules/uplot/dist/uPlot.iife.min.js" "$frontend/node_modules/uplot/dist/uPlot.min.css" "$vendor/"
cp "$frontend/node_modules/uplot/LICENSE" "$vendor/uPlot.LICENSE"
rm -f "$vendor"/.built-*
touch "$stamp"
