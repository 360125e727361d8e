#!/usr/bin/env bash
# Build the analytics hosts' wheelhouse: the streamstats wheel and every pinned dependency, into
# .cache/wheelhouse (replaced whole, so no stale wheel lingers). Wheels are reproducible
# (SOURCE_DATE_EPOCH; dependencies come from pip's cache byte for byte), so an unchanged source gives
# identical files and the hosts see no change. Usage: build-wheelhouse.sh [PYTHON]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${1:-$repo/.venv/bin/python}"
target="$repo/.cache/wheelhouse"
rm -rf "$target.new"
SOURCE_DATE_EPOCH=315532800 "$python" -m pip wheel --quiet --disable-pip-version-check \
  --wheel-dir "$target.new" "$repo/packaging/streamstats" 2>&1 | grep -v "^WARNING: Location" >&2 || true
[ -n "$(ls "$target.new"/streamstats-*.whl 2>/dev/null)" ] || { echo "wheelhouse: build failed" >&2; exit 1; }
# The in-tree build's debris: an egg-info in src/ would pass for an installed streamstats.
rm -rf "$repo/src/streamstats.egg-info" "$repo/packaging/streamstats/build"
rm -rf "$target"
mv "$target.new" "$target"
ls "$target"
