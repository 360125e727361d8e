#!/usr/bin/env bash
# `ansible-test sanity` (and `ansible-test units`) on the built collection, offline. ansible-test bootstraps
# pip into each of its virtualenvs with get-pip.py downloaded from Ansible's CI file host, which cannot be
# reached here: a stand-in of the same name in its cache (~/.ansible/test/cache/get_pip_<version>.py)
# installs pip from a wheel fetched once into ~/.cache/cdn-infra/ansible-test/ (pip's own cache or
# index), with --no-index. Every other requirement of the sanity tests comes through pip as usual.
#   scripts/sanity.sh            build the collection, then sanity and units
#   scripts/sanity.sh --no-build on the collection in build/collection as it is
source "$(dirname "$0")/lib.sh"

[ "${1:-}" = "--no-build" ] || "$REPO_ROOT/scripts/collection.sh" >/dev/null
collection="$(find "$REPO_ROOT/build/collection/ansible_collections" -mindepth 2 -maxdepth 2 -type d | head -n1)"
[ -n "$collection" ] || { echo "sanity: no collection in build/collection: run make collection" >&2; exit 1; }

# The pip version ansible-test pins for its virtualenvs.
pip_version="$(python -c 'from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import PythonConfig
print(get_venv_packages(type("P", (), {"version": "3.11"})())["pip"])')"
wheels="$HOME/.cache/cdn-infra/ansible-test"
wheel="$wheels/pip-$pip_version-py3-none-any.whl"
if [ ! -f "$wheel" ]; then
  step "pip $pip_version wheel for ansible-test's virtualenvs"
  mkdir -p "$wheels"
  python -m pip download --quiet --no-deps --only-binary :all: --dest "$wheels" "pip==$pip_version"
fi
standin="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$standin")"
cat > "$standin.new" <<PY
"""Stand-in for get-pip.py $pip_version (written by cdn-infra's scripts/sanity.sh): pip from a local wheel."""
import sys

sys.path.insert(0, "$wheel")
from pip._internal.cli.main import main  # noqa: E402

# get-pip.py's own options; pip install has no such flags (without them it installs no setuptools/wheel).
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install", "--no-index", "--find-links", "$wheels", "--upgrade", "--force-reinstall", *args]))
PY
mv "$standin.new" "$standin"

cd "$collection"
# ansible-test lists a collection's files with git when it sits in a repository, and build/ is ignored by
# this one: the built collection becomes a repository of its own, so that every file is seen.
if [ ! -d .git ]; then
  git init --quiet && git add --all && git -c user.name=sanity -c user.email=sanity@localhost commit --quiet -m built
fi
step "ansible-test sanity (${collection#"$REPO_ROOT"/})"
# pslint and shellcheck check PowerShell and shell scripts, which the collection has none of.
ansible-test sanity --venv --python 3.11 --skip-test pslint --skip-test shellcheck --color no "${@:2}"
if [ -d tests/unit ]; then
  step "ansible-test units"
  ansible-test units --venv --python 3.11 --color no
fi
