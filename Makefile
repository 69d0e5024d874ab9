# recfusion: `make run` runs the main job on MovieLens-100K, `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= runs/$(shell date +%Y%m%d-%H%M%S)

.PHONY: install run test bench clean

$(STAMP): pyproject.toml requirements.lock Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	# MovieLens-100K ships inside the recbole wheel; only its data files are used.
	$(BIN)/python -m pip install --quiet --no-deps recbole==1.2.1
	$(BIN)/python -m pip install --quiet --no-deps -e .
	# Headless Chromium renders report.html in a test (skipped with a reason if absent).
	command -v chromium >/dev/null || { command -v apt-get >/dev/null && \
		{ apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } ; } || \
		echo "chromium could not be installed: the report browser test will be skipped"
	# PySpark (the optional Spark engine, tested in local mode) needs a Java runtime.
	command -v java >/dev/null || { command -v apt-get >/dev/null && \
		{ apt-get update -qq && apt-get install -y -qq default-jre-headless >/dev/null; } ; } || \
		echo "java could not be installed: the Spark tests will be skipped"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/recfusion run --data movielens-100k --out $(OUT)

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/vs_implicit.py

clean:
	rm -rf $(VENV) runs
