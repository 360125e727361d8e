#!/usr/bin/env bash
# Build the control panel hosts' wheelhouse: the cdnpanel and streamstats wheels and every pinned
# dependency, into .cache/panel-wheelhouse (replaced whole). The browser assets are built first, since
# the wheel carries them. Reproducible like build-wheelhouse.sh. Usage: build-panel-wheelhouse.sh [PYTHON]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${1:-$repo/.venv/bin/python}"
target="$repo/.cache/panel-wheelhouse"
"$repo/scripts/panel-assets.sh" >&2
rm -rf "$target.new"
SOURCE_DATE_EPOCH=315532800 "$python" -m pip wheel --quiet --disable-pip-version-check \
  --wheel-dir "$target.new" "$repo/packaging/streamstats" "$repo/packaging/cdnpanel" 2>&1 \
  | grep -v "^WARNING: Location" >&2 || true
[ -n "$(ls "$target.new"/cdnpanel-*.whl 2>/dev/null)" ] || { echo "panel wheelhouse: build failed" >&2; exit 1; }
# The in-tree builds' debris: an egg-info in src/ would pass for an installed distribution.
rm -rf "$repo/src/streamstats.egg-info" "$repo/src/cdnpanel.egg-info" \
  "$repo/packaging/streamstats/build" "$repo/packaging/cdnpanel/build"
rm -rf "$target"
mv "$target.new" "$target"
ls "$target"
