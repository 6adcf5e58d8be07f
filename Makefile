# Entry points for people and CI (.ci/run): `make test` runs the whole test suite on a fresh Debian machine.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.mcim-installed

.PHONY: setup system-deps test lint types demo

# Quick when nothing changed: pip runs again only when pyproject.toml is newer than the last install.
setup: $(STAMP)

$(STAMP): pyproject.toml | system-deps
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q -e '.[test,lint,types]'
	touch $@

system-deps:
	bash scripts/system-deps.sh

# pytest's own exit status decides, 5 (no tests collected) included.
test: setup system-deps
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check host tests

types: setup
	$(VENV)/bin/mypy host/mcim

demo: setup
	$(VENV)/bin/mcim demo
