#!/usr/bin/env bash
# The long differential fuzz of the native parser against the polars one (atheris, libFuzzer's engine):
# new inputs go to the corpus kept in tests/streamstats/fuzz_corpus; a difference stops the run with the
# chunk written to crash-*. Usage: fuzz.sh [SECONDS] (600 by default).
source "$(dirname "$0")/lib.sh"
seconds="${1:-600}"
step "differential fuzz of the native parser, $seconds s"
python -m tests.streamstats.fuzz_native -max_total_time="$seconds" -max_len=4096 -timeout=30 -reduce_inputs=0 \
  tests/streamstats/fuzz_corpus
