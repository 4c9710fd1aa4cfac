# One entry point for the README's commands. Everything installs into .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: venv wheelhouse install quickstart test lint bench clean mutate mutate-ci dist

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# uv installs the same pinned requirements as pip would, in a tenth of the time.
	$(BIN)/pip install -q uv
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[dev]'
	# python-hcl2 compiles its grammar on first use; build the cache once, at install time.
	$(BIN)/python -c "import hcl2.parser; hcl2.parser.parser()"
	touch $@

# The pre-commit hook test installs np as pre-commit does, without a network: from these
# wheels (np's dependencies and its build backend). Only the tests need them, so .ci/run
# downloads them while it lints.
$(VENV)/wheelhouse/.complete: $(VENV)/.installed
	rm -rf $(VENV)/wheelhouse && $(BIN)/pip download -q -d $(VENV)/wheelhouse setuptools .
	touch $@

venv: $(VENV)/.installed
wheelhouse: $(VENV)/wheelhouse/.complete
install: venv wheelhouse

quickstart: venv
	rm -rf build/quickstart && mkdir -p build && cp -r examples/quickstart build/quickstart
	cd build/quickstart/hcl && ../../../$(BIN)/np plan && ../../../$(BIN)/np apply --auto-approve

test: install
	$(BIN)/pytest -n auto --dist worksteal

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: venv
	$(BIN)/python -m bench.run

# Mutation testing of the planning core (docs/testing.md): the score table, exit 1 below the bar.
mutate: venv
	$(BIN)/python tools/mutate.py

mutate-ci: venv
	$(BIN)/python tools/mutate.py --ci

# The wheel CI installs np from (examples/ci/README.md): dist/np_reconciler-VERSION-py3-none-any.whl
dist: venv
	rm -rf dist && $(BIN)/pip wheel -q --no-deps -w dist .

clean:
	rm -rf $(VENV) build dist mutants .pytest_cache .mypy_cache .ruff_cache
