# Two set-up commands for a fresh machine (see README.md):
#   make lab    install, then run the first lab (debuglab run leak-03)
#   make test   install with the test extras, then run the whole test suite
PYTHON ?= python3
# On a machine without a GPU, torch must not be pulled as a multi-GB CUDA build. Here
# `pip install torch==2.13.0` takes a local CPU wheel; elsewhere set TORCH_CPU, e.g.
# TORCH_CPU="torch --index-url https://download.pytorch.org/whl/cpu"
TORCH_CPU ?= torch==2.13.0

.PHONY: install lab test test-tools bench

install:
	@$(PYTHON) -c "import torch" 2>/dev/null && echo "keeping the installed torch" || { \
	  if command -v nvidia-smi >/dev/null 2>&1; then $(PYTHON) -m pip install "torch>=2.11,<3"; \
	  else $(PYTHON) -m pip install $(TORCH_CPU); fi; }
	$(PYTHON) -m pip install -e ".[test]"

lab: install
	$(PYTHON) -m debuglab run leak-03

# The workshop tests drive the terminal in tmux and open the HTML report in headless Chromium.
test-tools:
	@command -v tmux >/dev/null 2>&1 && command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux chromium fonts-dejavu-core >/dev/null; \
	  else echo "the tests need tmux and chromium: install them (e.g. sudo apt-get install tmux chromium)"; exit 1; fi; }

test: install test-tools
	$(PYTHON) -m pytest

bench: install
	$(PYTHON) scripts/bench.py
