#!/usr/bin/env bash
# Static checks: YAML, Ansible (production profile), Python, and a syntax check of every playbook.
source "$(dirname "$0")/lib.sh"

step "yamllint"
yamllint --strict .

step "ansible-lint (production profile)"
# ansible-lint puts ~/.ansible/collections first: a cdn.infra installed there by another tool (Molecule's
# prerun did, before it was turned off) would shadow the checkout's collection, which has the modules.
stale="${HOME}/.ansible/collections/ansible_collections/cdn/infra"
if [ -e "$stale" ]; then
  echo "lint: removing $stale (a copy that shadows the checkout's collection)"
  rm -rf "$stale"
fi
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
