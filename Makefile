# Two entry points: `make demo` and `make test`. Everything installs into .venv from the
# package registries; the machine's own python3 builds it (3.10+; never a fixed minor).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
REQUIREMENTS := requirements/core.txt requirements/ros.txt requirements/build.txt \
	requirements/test.txt
# The package's own ROS interfaces, built with CMake into .venv (an ament prefix, thanks to the
# registry's ROS 2 wheels) beside pip's editable install of the Python code.
INTERFACES := $(wildcard msg/*.msg srv/*.srv action/*.action)
INTERFACES_BUILD := build/interfaces
PIP_STAMP := $(VENV)/.pip-installed
INTERFACES_STAMP := $(VENV)/.interfaces-installed
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# DDS traffic stays on this machine, on a domain of our own.
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
export ROS_DOMAIN_ID ?= 42

.PHONY: install demo test lint params clean

install: $(STAMP)

$(STAMP): $(PIP_STAMP) $(INTERFACES_STAMP)
	touch $@

$(PIP_STAMP): $(REQUIREMENTS) setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(foreach r,$(REQUIREMENTS),-r $(r))
	$(BIN)/pip install --quiet --no-deps --editable .
	touch $@

# zsris_ros.msg, .srv, .action (30-60 s fresh on 2 cores; only what changed after that). The
# prefix paths name .venv for this build only; installed, the modules import without them.
$(INTERFACES_STAMP): $(PIP_STAMP) $(INTERFACES) CMakeLists.txt package.xml
	AMENT_PREFIX_PATH=$(abspath $(VENV)) CMAKE_PREFIX_PATH=$(abspath $(VENV)) \
	  cmake -S . -B $(INTERFACES_BUILD) -DCMAKE_INSTALL_PREFIX=$(abspath $(VENV)) \
	    -DPython3_EXECUTABLE=$(abspath $(BIN))/python -DBUILD_TESTING=OFF \
	    -DZSRIS_ROS_EDITABLE_PYTHON=ON --log-level=WARNING >/dev/null
	AMENT_PREFIX_PATH=$(abspath $(VENV)) CMAKE_PREFIX_PATH=$(abspath $(VENV)) \
	  cmake --build $(INTERFACES_BUILD) --parallel $(JOBS) >$(INTERFACES_BUILD)/build.log \
	  || { tail -40 $(INTERFACES_BUILD)/build.log; exit 1; }
	cmake --install $(INTERFACES_BUILD) >/dev/null
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
