# Two commands do all the set-up on a fresh machine:
#   make demo   creates .venv (finding a Python >= 3.12 itself), installs, runs the
#               weight mirror as a Brian2 rate circuit on digits (cpp_standalone)
#   make test   same set-up, then the test suite
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo compare test test-slow benchmark clean

$(STAMP): pyproject.toml
	@python=$$(PYTHON="$(PYTHON)" scripts/find-python) || exit 1; \
	echo "using $$python ($$($$python --version))"; \
	$$python -m venv $(VENV) && \
	$(BIN)/python -m pip install --quiet --upgrade pip && \
	$(BIN)/python -m pip install --quiet -e ".[test,cluster,gpu,nwb]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mirrorlab run configs/digits_wm_circuit.toml --out results/demo_circuit
	@echo "figures: results/demo_circuit/figures/ (alignment, schedule, scatter)"

compare: $(STAMP)
	$(BIN)/mirrorlab compare configs/digits_mlp.toml --rules bp,fa,ss,wm,kp --seeds 3 --out results/compare
	@echo "figures: results/compare/figures/ and results/compare/<rule>/seed<N>/figures/"

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

benchmark: $(STAMP)
	$(BIN)/python benchmarks/matrix_engine.py
	$(BIN)/python benchmarks/circuit_engine.py

clean:
	rm -rf $(VENV) build dist *.egg-info
