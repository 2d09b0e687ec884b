# Tanfang Monitor: `make demo` to see it work, `make test` to prove it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEBS := mosquitto mosquitto-clients influxdb chromium fonts-noto-cjk

.PHONY: demo test venv dev debs lint migration vendor bench clean

$(BIN)/tanfang: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

venv: $(BIN)/tanfang

dev: $(VENV)/.dev

$(VENV)/.dev: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: venv
	$(BIN)/tanfang demo

# Debian packages the integration tests need; installed only when running as root.
debs:
	@if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	  missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  fi; \
	fi

test: dev debs
	$(BIN)/python -m pytest -q

lint: dev
	$(BIN)/ruff check monitor devices tests benchmarks
	$(BIN)/mypy monitor devices

# Rewrite the one migration from the models (only while nothing is deployed).
migration: dev
	rm -f monitor/store/migrations/versions/0001_initial_schema.py /tmp/tanfang-gen.db
	$(BIN)/python -c "from alembic import command; from monitor.store.db import alembic_config; \
	  command.revision(alembic_config('sqlite:////tmp/tanfang-gen.db'), message='initial schema', autogenerate=True, rev_id='0001')"

# Refresh the console's chart library from the npm registry (a pinned version, with its licence).
ECHARTS ?= 5.6.0
VENDOR := monitor/console/static/vendor
vendor:
	rm -rf /tmp/tanfang-vendor && mkdir -p /tmp/tanfang-vendor
	cd /tmp/tanfang-vendor && npm pack --silent echarts@$(ECHARTS) >/dev/null && tar xzf echarts-$(ECHARTS).tgz
	cp /tmp/tanfang-vendor/package/dist/echarts.min.js $(VENDOR)/echarts.min.js
	cp /tmp/tanfang-vendor/package/LICENSE $(VENDOR)/echarts.LICENSE
	cp /tmp/tanfang-vendor/package/NOTICE $(VENDOR)/echarts.NOTICE
	rm -rf /tmp/tanfang-vendor

bench: dev debs
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) data .pytest_cache
