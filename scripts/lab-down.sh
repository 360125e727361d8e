#!/usr/bin/env bash
# `make lab-down`: remove the lab's hosts and network.
source "$(dirname "$0")/lib.sh"
if ! command -v lab >/dev/null; then
  echo "lab-down: no virtualenv, nothing to remove"
  exit 0
fi
lab down
