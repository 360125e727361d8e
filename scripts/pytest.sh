#!/usr/bin/env bash
# The Python test suite (unit and integration against real local peers).
source "$(dirname "$0")/lib.sh"
pytest --durations=30 "$@"
