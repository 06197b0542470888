# The two commands of the README:
#   make demo   set up .venv (Python 3.12, every ecosystem) and run the end-to-end demo on the built-in sample
#   make test   set up .venv (+ .venv-hf36 for the datasets<4 script path) and run the whole test suite
#               (CI runs this through .ci/run)
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= $(shell tools/find-python 3.12)
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-12)
# datasets 3.6 is the last release that runs loading scripts: the script path is tested there.
HF36 ?= .venv-hf36
HF36_STAMP := $(HF36)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-12)
JOBS ?= 2

.PHONY: demo test setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "make: Python 3.12 is needed (set PYTHON=/path/to/python3.12)"; exit 2; }
	rm -f $(VENV)/.installed-*
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[all,test]'
	touch $@

$(HF36_STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "make: Python 3.12 is needed (set PYTHON=/path/to/python3.12)"; exit 2; }
	rm -f $(HF36)/.installed-*
	$(PYTHON) -m venv $(HF36)
	$(HF36)/bin/python -m pip install --quiet --upgrade pip
	$(HF36)/bin/python -m pip install --quiet "datasets==3.6.0" -e '.[hf,test]'
	touch $@

demo: $(STAMP)
	$(VENV)/bin/sen12ms demo

test: $(STAMP) $(HF36_STAMP)
	SEN12MS_FAIL_ON_SKIP=1 $(VENV)/bin/python -m pytest -n $(JOBS)
	SEN12MS_FAIL_ON_SKIP=1 $(HF36)/bin/python -m pytest -q tests/test_hf_script.py

clean:
	rm -rf $(VENV) $(HF36) .pytest_cache
