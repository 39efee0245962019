# circnn: the two commands users need.
#   make demo   the main job (creates .venv, installs what it needs, runs `circnn demo`)
#   make test   the whole test suite, in parallel
#   make bench  the circulant-vs-dense benchmark sweep (hours; BENCH_ARGS=--quick for minutes)
#   make prove  the formal proofs (PROVE_ARGS=--all for the slow ones too)
VENV   ?= .venv
STAMP  := $(VENV)/.circnn-installed
PYTEST_ARGS ?=

.PHONY: demo test tools venv bench prove clean

$(STAMP): pyproject.toml scripts/ensure-venv.sh
	@bash scripts/ensure-venv.sh $(VENV)
	@touch $@

venv: $(STAMP)

tools:
	@bash scripts/ensure-tools.sh

demo: $(STAMP) tools
	$(VENV)/bin/circnn demo

bench: $(STAMP) tools
	$(VENV)/bin/circnn bench $(BENCH_ARGS)

prove: $(STAMP)
	$(VENV)/bin/circnn prove $(PROVE_ARGS)

test: $(STAMP) tools
	$(VENV)/bin/python -m pytest -n auto $(PYTEST_ARGS)

clean:
	rm -rf build
