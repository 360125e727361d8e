#!/usr/bin/env bash
# `make demo`: the main job on the local lab. Idempotent: a second run changes nothing on the hosts.
source "$(dirname "$0")/lib.sh"
"$REPO_ROOT/scripts/lab-up.sh"

step "ansible-playbook provision.yml: the boot server, then the bare-metal twin (lease, iPXE, install, Chef)"
ansible-playbook provision.yml

step "the twin's serial console, last boot"
lab status
server_id="$(ansible-inventory --host twin1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["leaseweb_server_id"])')"
lab twin console "$server_id" | grep -E 'cdn-infra:|SYSLINUX|iPXE [0-9]' || true

step "ansible-playbook site.yml: the baseline, MariaDB and its replica, the aggregator, edge nginx and agents, the panel"
ansible-playbook site.yml

step "traffic through the edge nodes"
lab traffic --requests 2000

step "bytes and requests per customer: counted from the nginx logs, and billed in MySQL"
lab billing

step "the control panel: reads the replica db2; a demo customer's login and its Usage page"
lab panel

step "the analytics rollout's release notes (recorded in Chef), and the Redmine issue it was noted on"
lab rollout
