# Thin: every target calls a script in scripts/, and every script installs what it needs.
# `make` alone prints the targets (their ## comments); `make test` is the full run (about 22 minutes).
.DEFAULT_GOAL := help
.PHONY: help test unit demo lint sanity collection pytest molecule lab-up lab-down deps venv image bench fuzz clean

help:       ## list the targets (this)
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-z][a-zA-Z_-]*:.*## / {printf "  make %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

test:       ## every check: lint, syntax, ansible-test sanity, pytest, Molecule
	scripts/test.sh

unit:       ## the fast tier: the tests that start no server, container or VM (pytest --unit)
	scripts/deps.sh && scripts/venv.sh && scripts/pytest.sh --unit

demo:       ## the main job on the local lab
	scripts/demo.sh

lint:       ## yamllint, ansible-lint, ruff, syntax checks
	scripts/deps.sh && scripts/venv.sh && scripts/lint.sh

sanity:     ## make collection, then ansible-test sanity on it (offline)
	scripts/deps.sh && scripts/venv.sh && scripts/sanity.sh

collection: ## the collection cdn.infra from the sources: build/cdn-infra-VERSION.tar.gz
	scripts/deps.sh && scripts/venv.sh && scripts/collection.sh

pytest:     ## the Python test suite only
	scripts/deps.sh && scripts/venv.sh && scripts/pytest.sh

molecule:   ## all Molecule scenarios (or: make molecule SCENARIOS="common")
	scripts/deps.sh && scripts/venv.sh && scripts/molecule.sh $(SCENARIOS)

lab-up:     ## start the lab's hosts
	scripts/lab-up.sh

lab-down:   ## remove the lab's hosts
	scripts/lab-down.sh

deps:       ## Debian packages
	scripts/deps.sh

venv:       ## the repository's virtualenv
	scripts/venv.sh

bench:      ## benchmarks beside their baselines (mawk, mtail, a naive MySQL writer); bench/results/*.json
	scripts/bench.sh

fuzz:       ## the native parser fuzzed against the polars one, 10 minutes (corpus: tests/streamstats/fuzz_corpus)
	scripts/deps.sh && scripts/venv.sh && scripts/fuzz.sh

clean:      ## remove the lab, the virtualenv and the collection build (the base image cache stays)
	scripts/lab-down.sh
	rm -rf .venv .lab .pytest_cache .ruff_cache build
