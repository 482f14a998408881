# Gharart core: set-up and checks in two commands.
#   make run    install into .venv (first time only) and serve on the embedded default
#   make test   install, then ruff, mypy and the whole pytest suite
.DEFAULT_GOAL := help
.PHONY: help install run lint test bench clean

# The first interpreter that actually runs and is >= 3.11 (pyenv shims may exist but fail).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV ?= .venv
BIN := $(VENV)/bin
# The install stamp is keyed on the content of pyproject.toml: editing dependencies reinstalls,
# anything else (git checkout, touch) does not.
PYPROJECT_HASH := $(shell $(PYTHON) -c "import hashlib;print(hashlib.sha256(open('pyproject.toml','rb').read()).hexdigest()[:16])")
STAMP := $(VENV)/.installed-$(PYPROJECT_HASH)
SERVE_ARGS ?=
PYTEST_ARGS ?=

help:
	@echo "make run    - install into $(VENV) if needed and start the service on ./.gharart (SQLite + files)"
	@echo "make test   - install if needed, then ruff, mypy (src/gharart_core) and pytest"
	@echo "make lint   - ruff and mypy only"
	@echo "make bench  - run the benchmarks in benchmarks/ (prints ratios)"
	@echo "make clean  - remove $(VENV) and caches (keeps ./.gharart data)"

$(STAMP):
	@test -n "$(PYTHON)" || { echo "Python >= 3.11 is required (set PYTHON=...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/gharart serve $(SERVE_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src/gharart_core

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis
