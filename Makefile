# Two entry points: `make demo` and `make test`. Everything installs into .venv from the
# package registries; the machine's own python3 builds it (3.10+; never a fixed minor).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
REQUIREMENTS := requirements/core.txt requirements/ros.txt requirements/test.txt

# DDS traffic stays on this machine, on a domain of our own.
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
export ROS_DOMAIN_ID ?= 42

.PHONY: install demo test lint params clean

install: $(STAMP)

$(STAMP): $(REQUIREMENTS) setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(foreach r,$(REQUIREMENTS),-r $(r))
	$(BIN)/pip install --quiet --no-deps --editable .
	touch $@

# Offline: the toy preset replays the bundled bag into a live node (`zsris demo --preset real`
# does the same with SAM + CLIP ViT-B/32 where their weights can be had).
demo: $(STAMP)
	$(BIN)/zsris demo --out demo_out

test: $(STAMP)
	$(BIN)/python -m pytest test

# Regenerate the parameter file and the README table from the typed settings.
params: $(STAMP)
	$(BIN)/zsris params > config/grounding.yaml
	$(BIN)/zsris params --into README.md

lint: $(STAMP)
	$(BIN)/flake8 zsris_ros test launch setup.py

clean:
	rm -rf $(VENV) build install log demo_out *.egg-info
