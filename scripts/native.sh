#!/usr/bin/env bash
# Build the native parser (streamstats._tsv, src/streamstats/_tsv.c) in place for the virtualenv, when
# its source is newer than the module. The same setup.py builds it into the analytics wheel.
source "$(dirname "$0")/lib.sh"

module="$(ls src/streamstats/_tsv.*.so 2>/dev/null | head -n 1 || true)"
if [ -n "$module" ] && [ "$module" -nt src/streamstats/_tsv.c ] && [ "$module" -nt packaging/streamstats/setup.py ]; then
  echo "native: up to date"
  exit 0
fi
step "native parser (gcc, warnings as errors)"
rm -f src/streamstats/_tsv.*.so
(cd packaging/streamstats && "$REPO_ROOT/.venv/bin/python" setup.py --quiet build_ext --inplace)
rm -rf packaging/streamstats/build packaging/streamstats/src
.venv/bin/python -c "import streamstats._tsv"
