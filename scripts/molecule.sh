#!/usr/bin/env bash
# Run Molecule scenarios (all, or those named) with the full test sequence, timing each.
source "$(dirname "$0")/lib.sh"

if [ $# -gt 0 ]; then
  scenarios=("$@")
else
  mapfile -t scenarios < <(find molecule -mindepth 2 -maxdepth 2 -name molecule.yml -printf '%h\n' | xargs -n1 basename | sort)
fi
for scenario in "${scenarios[@]}"; do
  step "molecule test -s $scenario"
  start=$SECONDS
  molecule test -s "$scenario"
  echo "molecule scenario $scenario: $((SECONDS - start)) s"
done
