#!/usr/bin/env bash
# `make lab-up`: the lab's hosts as systemd containers on the lab network.
source "$(dirname "$0")/lib.sh"
"$REPO_ROOT/scripts/deps.sh"
"$REPO_ROOT/scripts/venv.sh"
step "lab up"
lab up
