#!/usr/bin/env bash
# `make test`: install what is missing, then every check the project has, in order of cost. The
# Molecule scenarios (podman containers, mostly waiting on Ansible) run beside pytest (local servers,
# mostly waiting on them): on two cores the two together take little more than the longer one.
source "$(dirname "$0")/lib.sh"
start=$SECONDS

"$REPO_ROOT/scripts/deps.sh"
"$REPO_ROOT/scripts/venv.sh"
step "lab base image"
lab image

"$REPO_ROOT/scripts/lint.sh"

# The collection cdn.infra built from the sources, checked by ansible-test sanity (offline).
"$REPO_ROOT/scripts/sanity.sh"

molecule_log="$REPO_ROOT/build/molecule.log"
mkdir -p "$(dirname "$molecule_log")"
step "Molecule scenarios, in the background (output: build/molecule.log, shown when pytest ends)"
setsid "$REPO_ROOT/scripts/molecule.sh" >"$molecule_log" 2>&1 &
molecule_pid=$!  # its own process group: stopped whole if this script stops early
trap 'kill -- "-$molecule_pid" 2>/dev/null || true' EXIT

step "pytest"
pytest_status=0
"$REPO_ROOT/scripts/pytest.sh" || pytest_status=$?

molecule_status=0
wait "$molecule_pid" || molecule_status=$?
trap - EXIT
step "Molecule scenarios (their output)"
cat "$molecule_log"

if [ "$pytest_status" -ne 0 ] || [ "$molecule_status" -ne 0 ]; then
  step "make test FAILED: pytest exited $pytest_status, Molecule $molecule_status"
  exit 1
fi
step "make test passed in $((SECONDS - start)) s"
