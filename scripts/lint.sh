#!/usr/bin/env bash
# Static checks: YAML, Ansible (production profile), Python, and a syntax check of every playbook.
source "$(dirname "$0")/lib.sh"

step "yamllint"
yamllint --strict .

step "ansible-lint (production profile)"
ansible-lint --profile production --offline

step "ruff"
ruff check .
ruff format --check .

step "ansible-playbook --syntax-check"
for playbook in *.yml playbooks/*.yml; do
  [ "$playbook" = galaxy.yml ] && continue  # the collection's metadata, not a playbook
  ansible-playbook --syntax-check "$playbook" >/dev/null
  echo "ok: $playbook"
done
