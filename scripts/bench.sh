#!/usr/bin/env bash
# `make bench`: every benchmark, each measuring the project beside its baselines in the same run on the
# same data; results are written to bench/results/*.json and printed. Not part of `make test`.
#   scripts/bench.sh                 all of them
#   scripts/bench.sh agent mysql     some of them (agent, mysql, pipeline, fleet, leaseweb, panel)
source "$(dirname "$0")/lib.sh"
"$REPO_ROOT/scripts/deps.sh"
"$REPO_ROOT/scripts/venv.sh"

which=("$@")
[ ${#which[@]} -eq 0 ] && which=(agent mysql pipeline fleet leaseweb panel)
mkdir -p bench/results
for name in "${which[@]}"; do
  case "$name" in
    agent)    step "agent throughput beside mawk and mtail"; python bench/agent_throughput.py ;;
    mysql)    step "MariaDB write path beside a naive writer"; python bench/mysql_write.py ;;
    pipeline) step "freshness and catch-up"; python bench/pipeline.py ;;
    fleet)    step "simulated fleets against this and the previous aggregator"; python bench/fleet.py ;;
    panel)    step "control panel: Usage and Traffic pages over a month"; python bench/panel.py ;;
    leaseweb)
      step "LeaseWeb API simulator"
      python bench/leaseweb_simulator.py | python -m json.tool | tee bench/results/leaseweb_simulator.json ;;
    *) echo "unknown benchmark $name (agent, mysql, pipeline, fleet, leaseweb, panel)" >&2; exit 2 ;;
  esac
done
