#!/usr/bin/env bash
# `make demo`: the main job on the local lab.
source "$(dirname "$0")/lib.sh"
"$REPO_ROOT/scripts/lab-up.sh"

step "ansible-playbook site.yml (inventory/lab)"
ansible-playbook site.yml
