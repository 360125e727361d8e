#!/usr/bin/env bash
# Static checks: YAML, Ansible (production profile), Python, and a syntax check of every playbook.
source "$(dirname "$0")/lib.sh"

step "yamllint"
yamllint --strict .

step "ansible-lint (production profile)"
ansible-lint --profile production --offline

step "ruff"
# Only the Python trees that exist yet (bench/ comes later).
mapfile -t python_trees < <(for tree in src tests bench library plugins module_utils molecule; do [ -d "$tree" ] && echo "$tree"; done)
ruff check "${python_trees[@]}"
ruff format --check "${python_trees[@]}"

step "ansible-playbook --syntax-check"
for playbook in *.yml playbooks/*.yml; do
  ansible-playbook --syntax-check "$playbook" >/dev/null
  echo "ok: $playbook"
done
