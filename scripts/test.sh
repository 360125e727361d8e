#!/usr/bin/env bash
# `make test`: install what is missing, then every check the project has, in order of cost.
source "$(dirname "$0")/lib.sh"
start=$SECONDS

"$REPO_ROOT/scripts/deps.sh"
"$REPO_ROOT/scripts/venv.sh"
step "lab base image"
lab image

"$REPO_ROOT/scripts/lint.sh"

# The collection cdn.infra built from the sources, checked by ansible-test sanity (offline).
"$REPO_ROOT/scripts/sanity.sh"

step "pytest"
"$REPO_ROOT/scripts/pytest.sh"

"$REPO_ROOT/scripts/molecule.sh"

step "make test passed in $((SECONDS - start)) s"
