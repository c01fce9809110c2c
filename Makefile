# ann-bench: every target installs what it needs into .venv first.
# the first of these that is Python 3.11-3.13 (or PY=/path/to/python3.x)
SUPPORTED := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))
PY      ?= $(firstword $(foreach p,python3 python3.13 python3.12 python3.11,$(shell command -v $(p) >/dev/null 2>&1 && $(p) -c '$(SUPPORTED)' 2>/dev/null && echo $(p))))
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
VARIANT ?= ml-latest-small
THREADS ?= 2
MODEL   ?= dot

.PHONY: install install-ray install-mlflow test bench bench-scale bench-stream bench-gpu docs-scale tune data train workloads sweep results-table plots report docs notebook quality-table clean

$(STAMP): pyproject.toml
	@test -n "$(PY)" || { echo "ann-bench needs Python 3.11, 3.12 or 3.13, and none is on PATH as python3 or python3.1x: install one (apt install python3.12, or pyenv install 3.12) and run make again, or name it: make PY=/path/to/python3.12"; exit 1; }
	@command -v $(PY) >/dev/null || { echo "PY=$(PY): no such program; name a Python 3.11-3.13: make PY=/path/to/python3.12"; exit 1; }
	@$(PY) -c '$(SUPPORTED)' || { echo "PY=$(PY) is Python $$($(PY) -c 'import platform; print(platform.python_version())'); ann-bench needs 3.11, 3.12 or 3.13"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Ray, for `ann-bench sweep --ray` and the tests that start a Ray cluster on this machine
RAY_STAMP := $(VENV)/.installed-ray
$(RAY_STAMP): $(STAMP)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[ray]'
	touch $(RAY_STAMP)

install-ray: $(RAY_STAMP)

## MLflow, for `ann-bench sweep --mlflow` and `results export --format mlflow`
MLFLOW_STAMP := $(VENV)/.installed-mlflow
$(MLFLOW_STAMP): $(STAMP)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[mlflow]'
	touch $(MLFLOW_STAMP)

install-mlflow: $(MLFLOW_STAMP)

## the whole benchmark on $(VARIANT) (grows with each stage: data -> train -> ...)
bench: data train workloads sweep results-table report

## the scale track: the ip workload grown to each size in SCALES (10M: SCALES="100k 1M 10M"), swept with
## scale.yaml into results/scale (resumable: built workloads and finished runs are kept), and its report
SCALES  ?= 100k 1M
SCALED  := $(foreach s,$(SCALES),datasets/workloads/$(VARIANT).$(MODEL).u2i.ip.synthetic$(s).hdf5)
REAL_IP := datasets/workloads/$(VARIANT).$(MODEL).u2i.ip.hdf5
bench-scale: $(REAL_IP) $(SCALED)
	$(BIN)/ann-bench sweep --config scale.yaml --results results/scale \
	    --workloads $(VARIANT).$(MODEL).u2i.ip $(notdir $(basename $(SCALED))) || test $$? -eq 1
	$(BIN)/ann-bench report --results results/scale

## the fastest configuration of every index meeting algorithms.yaml's tune: goals on the ip workload
## (Optuna over build parameters, bisection over the query parameter), into results/tune, and its report
tune: $(REAL_IP)
	$(BIN)/ann-bench tune --config algorithms.yaml --workloads $(VARIANT).$(MODEL).u2i.ip
	$(BIN)/ann-bench report --results results/tune

## the GPU ceiling (a machine with a CUDA GPU and a CUDA build of torch): exact search on the GPU (gpu.yaml)
## added to the scale track's results, and its report (the GPU drawn as a second reference line)
bench-gpu: $(REAL_IP) datasets/workloads/$(VARIANT).$(MODEL).u2i.ip.synthetic1M.hdf5
	$(BIN)/ann-bench sweep --config gpu.yaml --results results/scale \
	    --workloads $(VARIANT).$(MODEL).u2i.ip $(VARIANT).$(MODEL).u2i.ip.synthetic1M
	$(BIN)/ann-bench report --results results/scale

## the streaming catalog: algorithms.yaml's stream: section replayed (arrivals and retirements in time order) on
## the ip workload and its 1M catalog, into results/stream; a failed replay is recorded, the rest go on, make fails at the end
bench-stream: $(REAL_IP) datasets/workloads/$(VARIANT).$(MODEL).u2i.ip.synthetic1M.hdf5
	$(BIN)/ann-bench stream --workloads $(VARIANT).$(MODEL).u2i.ip $(VARIANT).$(MODEL).u2i.ip.synthetic1M

## the README's scaling figure and table (docs/), from the scale report
docs-scale:
	mkdir -p docs
	cp results/scale/report/plots/scaling__$(VARIANT).$(MODEL).u2i.ip__recall10-0.95.png docs/
	cp results/scale/report/tables/scaling.qps_single.md docs/

$(REAL_IP): | $(STAMP)
	$(MAKE) data train workloads

datasets/workloads/$(VARIANT).$(MODEL).u2i.ip.synthetic%.hdf5: | $(REAL_IP)
	$(BIN)/ann-bench workloads build $(VARIANT) --model $(MODEL) --u2i-metrics ip --threads $(THREADS) \
	    --scale $(subst k,000,$(subst M,000000,$*))

data: $(STAMP)
	$(BIN)/ann-bench data prepare $(VARIANT)

## MODEL=dot (default): cosine + item bias as a raw inner product; cos: unit-norm towers; raw: unconstrained
train: $(STAMP)
	$(BIN)/ann-bench train $(VARIANT) --model $(MODEL) --threads $(THREADS)

workloads: $(STAMP)
	$(BIN)/ann-bench workloads build $(VARIANT) --model $(MODEL) --threads $(THREADS)

## exit status 1 = some runs failed (recorded, shown in the report): go on to the report
sweep: $(STAMP)
	$(BIN)/ann-bench sweep --config algorithms.yaml || test $$? -eq 1

results-table: $(STAMP)
	$(BIN)/ann-bench results table --output results/table.csv results/table.parquet

plots: $(STAMP)
	$(BIN)/ann-bench plots

report: $(STAMP)
	$(BIN)/ann-bench report

## the README's figures and tables (docs/), from the report
docs: report
	mkdir -p docs
	cp results/report/plots/$(VARIANT).$(MODEL).u2i.ip__qps_single-vs-recall10.png docs/
	cp results/report/tables/recommendation.qps_single.md docs/
	cp results/report/plots/$(VARIANT).$(MODEL).u2i.ip__qps_filtered-vs-filtered_recall10.png docs/
	cp results/report/tables/recommendation.filtered.md docs/

notebook: $(STAMP)
	$(BIN)/ann-bench notebook

## the README's quality table, from the trained models' metrics
quality-table: $(STAMP)
	$(BIN)/ann-bench models table

test: $(STAMP) $(RAY_STAMP) $(MLFLOW_STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf datasets/prepared datasets/models datasets/workloads results/*/
