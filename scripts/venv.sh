#!/usr/bin/env bash
# Create the repository's virtualenv and install src/ (editable) with the pinned tool chain.
# Re-installs only when pyproject.toml changed; rebuilds the native parser when its source changed.
source "$(dirname "$0")/lib.sh"

# The control panel's browser assets (cached; npm runs only when the lockfile changed).
"$REPO_ROOT/scripts/panel-assets.sh"

stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ -f "$stamp" ]; then
  echo "venv: up to date"
else
  step "virtualenv .venv"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
  .venv/bin/python -c "import ansible, molecule, testinfra, pyinfra, requests, polars"
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# The agent's native parser, built in place (gcc and the Python headers come from scripts/deps.sh).
"$REPO_ROOT/scripts/native.sh"
