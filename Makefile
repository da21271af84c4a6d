# Two commands on a fresh clone: `make local` (run the service) and `make test` (every check).
PYTHON ?= python3
PORT ?= 3000
VENV := .venv
SAM_VENV := .venv-sam
BIN := $(VENV)/bin
export PYTHONPATH := layers/common/python:tools
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0

.PHONY: local sam-local test-sam-local test lint typecheck unit receiver demo bench build deploy admin-key smoke delete recount openapi clean

# pip's progress on a terminal (the first install takes about a minute), quiet in CI.
PIP_INSTALL = pip install --disable-pip-version-check $(if $(CI),--quiet,--progress-bar on)

$(VENV)/.installed: requirements-dev.txt
	@echo "Installing the development environment into $(VENV)/ from requirements-dev.txt..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/$(PIP_INSTALL) -r requirements-dev.txt
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	@echo "Installing the SAM CLI into $(SAM_VENV)/ from requirements-sam.txt..."
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/$(PIP_INSTALL) -r requirements-sam.txt
	touch $@

## local: the embedded stack (moto + HTTP gateway) on 127.0.0.1:$(PORT); ARGS="--parameter Name=Value"
#   VERBOSE=1: a line and the function's log for every stream batch, queue batch and scheduled run
local: $(VENV)/.installed
	$(BIN)/python -m local_stack --port $(PORT) --ready-file .eventlog-local/stack.json \
		$(if $(VERBOSE),--verbose) $(ARGS)

## sam-local: the API under `sam local start-api` (Docker) on 127.0.0.1:$(PORT), backed by the local
#   stack's moto (docs/sam-local.md). SAM_INVOKE_IMAGE=<a local image>: no registry needed;
#   SAM_ENDPOINT_HOST=host.docker.internal: Docker Desktop (macOS, Windows)
sam-local: $(VENV)/.installed $(SAM_VENV)/.installed
	$(BIN)/python -m sam_local --port $(PORT) $(if $(VERBOSE),--verbose) \
		$(if $(SAM_ENDPOINT_HOST),--endpoint-host $(SAM_ENDPOINT_HOST)) $(ARGS)

## test-sam-local: tests/integration/test_sam_local.py (skipped, with the reason, without Docker
#   or the invoke image: SAM_INVOKE_IMAGE, else AWS's python3.11 arm64 image)
test-sam-local: $(VENV)/.installed $(SAM_VENV)/.installed
	$(BIN)/python -m pytest -q -p no:cacheprovider --no-cov -rs tests/integration/test_sam_local.py

## test: lint, template checks, type checks and the whole pytest suite with its coverage gate
test: lint typecheck unit

lint: $(VENV)/.installed $(SAM_VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint template.yaml
	$(SAM_VENV)/bin/sam validate --lint --template template.yaml

## typecheck: mypy (pydantic plugin, mypy.ini) over layers/, tools/ and each functions/<name>/
typecheck: $(VENV)/.installed
	bash tools/typecheck.sh $(BIN)/mypy

# The figure reached (layers and functions, the code that is deployed): it may only go up.
# worksteal: a worker that is done takes tests queued for the other (a few tests take a minute).
COVERAGE_FLOOR := 97
unit: $(VENV)/.installed
	$(BIN)/python -m pytest -n 2 --dist worksteal -q --cov=layers/common/python --cov=functions \
		--cov-report=term:skip-covered --cov-fail-under=$(COVERAGE_FLOOR)

## receiver: print each webhook or subscription delivery and whether its signature verifies
#   make receiver [PORT=9000] [SECRET=<the webhook's or subscription's secret>]; not make local's 3000
receiver: $(VENV)/.installed
	$(BIN)/python tools/loopback_receiver.py --port $(if $(filter file,$(origin PORT)),9000,$(PORT)) \
		$(if $(SECRET),--secret '$(SECRET)')

## demo: a demo app with a realistic day of events (make local running, or URL=… ADMIN=…)
demo: $(VENV)/.installed
	$(BIN)/python tools/demo.py $(if $(URL),--url '$(URL)' --admin-key '$(ADMIN)') $(ARGS)

## bench: DynamoDB request units per event and per read, cold starts (tools/bench/); ARGS="--check"
bench: $(VENV)/.installed
	$(BIN)/python -m bench $(ARGS)

## openapi: regenerate functions/query/openapi.json (GET /openapi.json, /docs) from the routes
openapi: $(VENV)/.installed
	$(BIN)/python tools/openapi.py

## build: sam build (no containers needed: runtime python3.11 matches this machine)
build: $(SAM_VENV)/.installed
	$(SAM_VENV)/bin/sam build

# A stack's region is REGION, else your AWS configuration's, not this file's default (which is
# for the local tools): commands on a deployed stack run without it.
STACK_ENV := $(if $(filter file,$(origin AWS_DEFAULT_REGION)),env -u AWS_DEFAULT_REGION)
STACK_ARGS = $(if $(STACK),--stack $(STACK)) $(if $(REGION),--region $(REGION))

## deploy: sam build, sam deploy (--guided the first time or with DEPLOY_GUIDED=1), the signing
#   secret when missing, then the API's URL (docs/deploying.md): [STACK=eventlog] [REGION=...]
#   [BUILD_ARGS=--use-container] (without python3.11 here: sam builds in Docker)
deploy: $(VENV)/.installed $(SAM_VENV)/.installed
	$(SAM_VENV)/bin/sam build $(BUILD_ARGS)
	$(STACK_ENV) $(BIN)/python tools/deploy.py deploy $(STACK_ARGS) \
		$(if $(filter 1,$(DEPLOY_GUIDED)),--guided)

## admin-key: the first admin key of a deployed stack (AWS credentials needed): make admin-key STACK=eventlog
admin-key: $(VENV)/.installed
	$(STACK_ENV) $(BIN)/python tools/create_admin_key.py --stack $(or $(STACK),eventlog) \
		$(if $(REGION),--region $(REGION))

## smoke: a deployed stage (or make local's) end to end: make smoke URL=https://... ADMIN=<admin key>
smoke: $(VENV)/.installed
	$(if $(and $(URL),$(ADMIN)),,$(error make smoke needs URL=<the API's URL> ADMIN=<an admin key>))
	$(BIN)/python tools/smoke.py

## delete: explains what stays (the retained tables, the secrets), then sam delete once confirmed
delete: $(VENV)/.installed $(SAM_VENV)/.installed
	$(STACK_ENV) $(BIN)/python tools/deploy.py delete $(STACK_ARGS)

## recount: rewrite an app's aggregates of UTC days [SINCE, UNTIL) from its raw events (tools/recount.py)
#   make recount APP=3 SINCE=2026-02-10 UNTIL=2026-02-12 [ENDPOINT=http://127.0.0.1:PORT | STACK=eventlog]
#                [REGION=eu-west-1] [ARGS="--dry-run --force"]
ifneq ($(filter recount,$(MAKECMDGOALS)),)
ifeq ($(and $(APP),$(SINCE),$(UNTIL)),)
$(error make recount needs APP=<app id> SINCE=<YYYY-MM-DD> UNTIL=<YYYY-MM-DD> (UNTIL excluded))
endif
# It rewrites aggregates: where is never a default.
ifeq ($(or $(ENDPOINT),$(STACK)),)
$(error make recount needs ENDPOINT=<the moto endpoint make local prints> or STACK=<a deployed stack>)
endif
endif
recount: $(VENV)/.installed
	$(if $(ENDPOINT),,$(STACK_ENV)) $(BIN)/python tools/recount.py --app $(APP) \
		--since $(SINCE) --until $(UNTIL) $(ARGS) \
		$(if $(ENDPOINT),--endpoint-url $(ENDPOINT),--stack $(STACK) $(if $(REGION),--region $(REGION)))

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .ruff_cache .mypy_cache .coverage
