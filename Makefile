# The two quick-start commands: `make demo` (set up, run the flagship scenario) and `make test`.
.PHONY: setup demo test validate bench app-screenshot

setup:
	bash scripts/bootstrap.sh

demo: setup
	.venv/bin/recip run pushy_vs_active --out results/pushy_vs_active

test: setup
	bash scripts/install-chromium.sh
	.venv/bin/ruff check .
	.venv/bin/python -m pytest -q

validate: setup
	.venv/bin/recip validate --out experiments/validation

bench: setup
	.venv/bin/python experiments/bench_engine.py

app-screenshot: setup
	.venv/bin/python viz/screenshot.py
