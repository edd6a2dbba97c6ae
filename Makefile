# `make test` and `make demo` work from a bare clone: they create .venv and install on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint bench clean update-data

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check rings_cli tests benchmarks sample_data
	$(BIN)/ruff format --check rings_cli tests benchmarks sample_data
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	@rm -rf .demo-state
	$(BIN)/rings ingest --state-dir .demo-state sample_data/access.log
	$(BIN)/rings report --state-dir .demo-state
	@echo; echo '$$ rings report --tenant alice.example --format json --limit 3   (excerpt)'
	@$(BIN)/rings report --state-dir .demo-state --tenant alice.example --format json --limit 3 \
	  | $(BIN)/python -c 'import json, sys; r = json.load(sys.stdin); \
	    print(json.dumps({k: r[k] for k in ("tenant", "start", "end", "totals", "top_pages")}, indent=1))'
	@echo; echo 'To run rings yourself: source .venv/bin/activate (or: pipx install .)'

lint: $(STAMP)
	$(BIN)/ruff check rings_cli tests benchmarks sample_data
	$(BIN)/ruff format --check rings_cli tests benchmarks sample_data

# The full benchmark by default; `make bench BENCH_ARGS=--quick` for 100k-line inputs. Rings'
# modules compiled first, as installing a wheel does (else, under PYTHONDONTWRITEBYTECODE, every
# timed start-up compiles them again).
bench: $(STAMP)
	$(BIN)/python -m compileall -q rings_cli
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

# Refresh the shipped referrer-spam list from a downloaded spammers.txt (Matomo's list):
#   make update-data FROM=path/to/spammers.txt SOURCE="upstream commit abc1234, 2026-12-01"
update-data: $(STAMP)
	@test -n "$(FROM)" || { echo 'usage: make update-data FROM=spammers.txt [SOURCE="commit, date"]'; exit 2; }
	$(BIN)/python -m rings_cli.enrich.spam "$(FROM)" --source "$(SOURCE)"

clean:
	rm -rf $(VENV) .demo-state .pytest_cache

.PHONY: readme
readme: $(STAMP)  # refresh README's Quick start from the real output of its commands
	$(BIN)/python sample_data/readme_quickstart.py
