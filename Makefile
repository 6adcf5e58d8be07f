# Entry points for people and CI (.ci/run): `make test` runs the whole test suite on a fresh Debian machine.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.mcim-installed

.PHONY: setup system-deps javacard test lint types demo

# Quick when nothing changed: pip runs again only when pyproject.toml is newer than the last install.
setup: $(STAMP)

$(STAMP): pyproject.toml | system-deps
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q -e '.[test,lint,types]'
	touch $@

system-deps:
	bash scripts/system-deps.sh

# The Java Card applets: compiled and unit-tested on jCardSim (JUnit); the jCardSim tests of the host need the build.
javacard: system-deps
	mvn -B -q -f applet-spec/javacard/pom.xml verify

# pytest's own exit status decides, 5 (no tests collected) included.
test: setup system-deps javacard
	$(VENV)/bin/pytest $(PYTEST_ARGS)
	$(VENV)/bin/python $(or $(MCIM_SHARED),../shared)/contract/check_cli_contract.py --mcim $(VENV)/bin/mcim

lint: setup
	$(VENV)/bin/ruff check host tests

types: setup
	$(VENV)/bin/mypy host/mcim

demo: setup
	$(VENV)/bin/mcim demo
