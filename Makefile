# Deep-Learning Optimizers, Derived and Verified: build, test and maintenance commands.
#
#   make book      set up .venv if needed, build the HTML book (warnings are errors)
#   make test      set up .venv if needed: unit tests, nbval twice, the browser test
#   make pdf       the whole book as one PDF, printed by headless Chromium
#   make execute   re-execute every chapter notebook in place (for authors)
#   make results   regenerate the experiment chapters' committed results (hours on a CPU)
#   make lock      regenerate requirements.txt from requirements.in in a throwaway venv
#   make clean     remove the built book
#
# The only thing a fresh machine needs is Python 3.11 and access to the package registries.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stamp
NOTEBOOKS = $(sort $(wildcard chapters/*.ipynb))

# One environment for every command that runs notebook code, so that `make execute`,
# `make test` and a reader's `make test` produce the same outputs.
export MPLBACKEND            := Agg
export PYTHONHASHSEED        := 0
export KERAS_BACKEND         := tensorflow
export TF_CPP_MIN_LOG_LEVEL  := 3
export TF_ENABLE_ONEDNN_OPTS := 0
export TF_DETERMINISTIC_OPS  := 1
export CUBLAS_WORKSPACE_CONFIG := :4096:8
# Threads that wait for work sleep rather than spin: pytest-xdist runs JOBS processes, each
# with its own OpenMP pool as wide as the machine, and spinning threads take the cores the
# other processes need (two chapters' nbval on 2 cores: 305 s spinning, 80 s with this).
# It changes when a thread runs, never what it computes.
export OMP_WAIT_POLICY       := PASSIVE
export TQDM_DISABLE          := 1
export LC_ALL                := C.UTF-8
export TZ                    := UTC
# Jupyter: find the kernelspec installed in .venv before any user-level one, and keep
# jupyter_core and debugpy from printing notices into notebook outputs.
export JUPYTER_PATH          := $(CURDIR)/$(VENV)/share/jupyter
export JUPYTER_PLATFORM_DIRS := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: help venv data book test unit nbval execute results lock clean
.PHONY: mathjax browser-deps nbval-dispatch browser pdf
.NOTPARALLEL:

help:
	@sed -n '3,10p' Makefile | sed 's/^# *//'

# ---------------------------------------------------------------------------------------
# Environment. The stamp is newer than requirements.txt and pyproject.toml once the venv
# matches them, so repeated calls cost nothing.
venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version.split()[0]'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (optlib)"
	touch $(STAMP)

# ---------------------------------------------------------------------------------------
# Data. The experiment chapters read Fashion-MNIST from Debian's package
# dataset-fashion-mnist (the four idx .gz files, 30 MB). As root with apt-get, install it;
# otherwise say how (optlib.experiments.data also looks in Keras's cache directory).
FASHION_MNIST := /usr/share/datasets/fashion-mnist

data:
	@if [ ! -d $(FASHION_MNIST) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; \
	  else \
	    echo "warning: Fashion-MNIST is missing; run: sudo apt-get install dataset-fashion-mnist" >&2; \
	  fi; \
	fi

# ---------------------------------------------------------------------------------------
# MathJax 3, served from the built book so that math renders offline: npm's package
# mathjax (its es5/ folder, 24 MB: the tex-mml-chtml component, the TeX extensions it
# loads on demand and the CHTML woff-v2 fonts), checked against its registry checksum and
# unpacked once into _build/vendor/mathjax, which _config.yml puts into _static/.
MATHJAX_VERSION := 3.2.2
MATHJAX_SHA512  := 06df9249553c7811b6ef30a155ec0e89c62ced7b1db78d2a9b8f94a47c97ee4d3f3bd36588f73ec7bee4d7f144b0fb2328f64626fb5164cd6f3be81e5b43a11b
VENDOR          := _build/vendor
MATHJAX         := $(VENDOR)/mathjax/tex-mml-chtml.js

mathjax: $(MATHJAX)

$(MATHJAX):
	@command -v npm >/dev/null || { echo "error: npm not found; install Node.js and npm (Debian: apt-get install npm)" >&2; exit 1; }
	rm -rf $(VENDOR)/mathjax $(VENDOR)/npm && mkdir -p $(VENDOR)/npm
	cd $(VENDOR)/npm && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null
	echo "$(MATHJAX_SHA512)  $(VENDOR)/npm/mathjax-$(MATHJAX_VERSION).tgz" | sha512sum -c --quiet
	tar -xzf $(VENDOR)/npm/mathjax-$(MATHJAX_VERSION).tgz -C $(VENDOR)/npm
	mv $(VENDOR)/npm/package/es5 $(VENDOR)/mathjax && rm -rf $(VENDOR)/npm

# Chromium (Debian's chromium) for the browser test and `make pdf`, and poppler-utils'
# pdftotext and pdfimages to check the PDF. As root with apt-get, install them.
BROWSER_DEBS := chromium poppler-utils

browser-deps:
	@if ! dpkg -s $(BROWSER_DEBS) >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_DEBS); \
	  else \
	    echo "error: run: sudo apt-get install $(BROWSER_DEBS)" >&2; exit 1; \
	  fi; \
	fi

# ---------------------------------------------------------------------------------------
book: $(STAMP) $(MATHJAX)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "The book is at $(CURDIR)/_build/html/index.html"

# ---------------------------------------------------------------------------------------
test: unit nbval nbval-dispatch browser verify-results

# pytest-xdist runs the tests on JOBS processes (the CI machine has 2 cores).
JOBS ?= 2

# pytest exits 5 when it collects nothing; that is accepted only while tests/ holds no
# test files at all.
unit: $(STAMP)
	@rc=0; $(BIN)/python -m pytest -n $(JOBS) tests || rc=$$?; \
	if [ $$rc -eq 5 ] && [ -z "$$(find tests -name 'test_*.py' -o -name '*_test.py' | head -n 1)" ]; then \
		echo "tests/ has no test files yet: unit tests skipped"; \
	elif [ $$rc -ne 0 ]; then exit $$rc; fi

# nbval runs each notebook's cells in order in one kernel; --dist loadfile keeps every
# notebook on one worker, so JOBS notebooks run at once.
NBVAL = $(BIN)/python -m pytest -p no:cacheprovider -n $(JOBS) --dist loadfile \
	--nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg chapters/

nbval: $(STAMP) data
	$(NBVAL)

# The same check under another CPU dispatch: PyTorch's baseline kernels instead of AVX2
# or AVX-512 ones, and one thread in every BLAS and OpenMP pool, so that a stored output
# that depends on the CPU's kernels or the core count fails here rather than on a
# reader's machine. (OPENBLAS_CORETYPE stays as the machine sets it.)
NBVAL_DISPATCH := ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	OPENBLAS_NUM_THREADS=1

nbval-dispatch: $(STAMP) data
	env $(NBVAL_DISPATCH) $(NBVAL)

# Every page of the built book in headless Chromium with the network off
# (tests/test_book_browser.py; see tools/bookbrowser.py).
browser: book browser-deps
	$(BIN)/python -m pytest -p no:cacheprovider -m browser tests/test_book_browser.py

# ---------------------------------------------------------------------------------------
# The whole book as one PDF: the one-page HTML build, printed by headless Chromium once
# MathJax has typeset it, then checked (every chapter's title in its text, no raw TeX, as
# many images as the book has).
PDF := _build/book.pdf
pdf: $(STAMP) $(MATHJAX) browser-deps
	$(BIN)/jupyter-book build . -W -n --keep-going --builder singlehtml
	$(BIN)/python tools/bookbrowser.py pdf _build/singlehtml $(PDF)
	@echo "The PDF is at $(CURDIR)/$(PDF)"

# ---------------------------------------------------------------------------------------
execute: $(STAMP) data
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.kernel_name=python3 \
		--ExecutePreprocessor.timeout=-1 \
		--ExecutePreprocessor.record_timing=False \
		$(NOTEBOOKS)

# ---------------------------------------------------------------------------------------
# Regenerate the committed results of the experiment chapters (about two hours on a 2-core
# CPU; a finished run is never redone, so an interrupted call resumes). WORKERS=2 trains two
# runs at once, one process per core; then `make execute` and review the diff.
WORKERS     ?= 1
EXPERIMENTS := iris fashion_cnn_adam fashion_cnn_keras fashion_cnn fashion_allconv
# seed 002's rerun chooses its learning rates (select) before its final runs (full, then long,
# three times as long, since full had not levelled off): about 17 more hours of runs on a
# 2-core CPU (select 2.1 h, full 3.7 h, long 11 h, variants 0.6 h), half with WORKERS=2
SEED002_BUDGETS := select full long variants
results: $(STAMP) data
	for e in $(EXPERIMENTS); do \
		$(BIN)/python -m optlib.experiments run $$e --budget full --workers $(WORKERS) || exit 1; \
	done
	for b in $(SEED002_BUDGETS); do $(BIN)/python -m optlib.experiments run \
		fashion_allconv_long --budget $$b --workers $(WORKERS) || exit 1; done

# Retrain a seeded sample of every experiment chapter's committed runs and compare every
# stored metric (optlib/experiments/verify.py states the tolerances); each entry is
# experiment/budget:runs. Two streams, one per core, of about 5 minutes each on the 2-core
# machine: iris 10 runs (each optimizer twice, ~1 s each), Fashion-MNIST CNN 2 and all-conv
# 2 (~30-50 s), the article's Adam in PyTorch 1 (~150 s) and in Keras 1 (~110 s), one of
# seed 002's learning-rate selection runs (~70 s; its final runs take 16 minutes each).
VERIFY_A := iris/full:10 fashion_cnn_adam/full:1 fashion_allconv/full:2
VERIFY_B := fashion_cnn_keras/full:1 fashion_cnn/full:2 fashion_allconv_long/select:1
.PHONY: verify-results
verify-results: $(STAMP) data
	@mkdir -p _build; verify() { rc=0; for s in $$*; do run=$${s%:*}; \
		$(BIN)/python -m optlib.experiments verify $${run%/*} --budget $${run#*/} \
		--sample $${s#*:} || rc=1; done; return $$rc; }; \
	verify $(VERIFY_A) > _build/verify-a.log 2>&1 & a=$$!; \
	verify $(VERIFY_B) > _build/verify-b.log 2>&1 & b=$$!; \
	rc=0; wait $$a || rc=1; wait $$b || rc=1; cat _build/verify-a.log _build/verify-b.log; exit $$rc

# ---------------------------------------------------------------------------------------
# Resolve requirements.in in a throwaway venv and freeze it. Run it after editing
# requirements.in, then `make execute` and `make test`, and commit all three together.
# The current lock constrains the resolution, so that adding a package moves no other pin;
# `make lock UPGRADE=1` resolves afresh (to change a pin, or to take every package's newest).
LOCK_VENV := $(CURDIR)/_build/lock-venv
lock: requirements.in
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --disable-pip-version-check -r requirements.in \
	  $(if $(UPGRADE),,-c requirements.txt)
	{ \
	  echo "# Exact versions of every package the book and its tests use (Python 3.11)."; \
	  echo "# Generated by \`make lock\` from requirements.in: do not edit by hand."; \
	  echo "# torch is written without its local label (+cpu): torch==2.13.0 matches the"; \
	  echo "# CPU wheel and never pulls the CUDA build."; \
	  $(LOCK_VENV)/bin/python -m pip freeze --exclude-editable --disable-pip-version-check \
	    | grep -v -i -E '^(optlib|pip|setuptools|wheel)([=@ ]|$$)' \
	    | sed -E 's/^(torch==[0-9.]+)\+cpu$$/\1/'; \
	} > requirements.txt.new
	mv requirements.txt.new requirements.txt
	rm -rf $(LOCK_VENV)

# ---------------------------------------------------------------------------------------
clean:
	rm -rf _build
