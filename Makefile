# Thin: every target calls a script in scripts/, and every script installs what it needs.
.PHONY: test demo lint pytest molecule lab-up lab-down deps venv image bench clean

test:       ## every check: lint, syntax, pytest, Molecule
	scripts/test.sh

demo:       ## the main job on the local lab
	scripts/demo.sh

lint:       ## yamllint, ansible-lint, ruff, syntax checks
	scripts/deps.sh && scripts/venv.sh && scripts/lint.sh

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

clean:      ## remove the lab and the virtualenv (the base image cache stays)
	scripts/lab-down.sh
	rm -rf .venv .lab .pytest_cache .ruff_cache
