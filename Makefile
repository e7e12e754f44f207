# The one entry point: the README, buildspecs/ and .github/workflows/ call these
# targets, so a laptop, CodeBuild and GitHub Actions run the same commands. `make help`
# lists them under the `# -----` headings below, in this file's order.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3
UV_VERSION := 0.13.9
BOOT := .venv-bootstrap
UV := $(BOOT)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .venv-tools
CDK := node_modules/.bin/cdk
OUT ?= cdk.out
PYTEST_WORKERS ?= auto
SCAN_THRESHOLD ?= HIGH

# Node 20 prints an end-of-life banner on every jsii start; the CLI must not phone home.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true
# Bytecode goes to one cache outside the source tree, not to __pycache__ beside the sources: the
# tree (and the services' build contexts, which the image tags fingerprint) stays clean, and the
# CDK library's modules (megabytes of source each) are compiled once, not again by every
# process that imports them (that compile was a third of a synth). Python checks each cached
# file against its source's mtime and size, so an edited module is recompiled.
export PYTHONPYCACHEPREFIX := $(CURDIR)/build/pycache
unexport PYTHONDONTWRITEBYTECODE

LOCK_FLAGS := --python-version 3.11 --generate-hashes --no-header --quiet
SERVICE_REQUIREMENTS := $(wildcard services/*/requirements.in)
# Each deployable service gets its own runtime lock (what its image installs);
# services/common is a library the services include with `-r`, not an image.
SERVICE_LOCKS := $(patsubst %.in,%.lock,$(filter-out services/common/%,$(SERVICE_REQUIREMENTS)))
DOCKERFILES := $(wildcard services/*/Dockerfile)
# The services are not installed packages; their import roots, as in the images: every
# services/<name> folder holding a Python package (services/web, the npm app, holds none), so a
# new service folder is on the path of make dev, mypy and bandit without an edit here.
# pyproject.toml's ruff `src` globs the same folders; pytest gets them from ./conftest.py.
space := $(subst ,, )
SERVICE_IMPORT_ROOTS := $(sort $(patsubst %/,%,$(dir $(patsubst %/,%,$(dir $(wildcard services/*/*/__init__.py))))))
SERVICES_PYTHONPATH := $(subst $(space),:,$(SERVICE_IMPORT_ROOTS))

# ---------------------------------------------------------------- start here
# Each `# -----` heading, then every `target: ... ## what it does` after it, in file order.
.PHONY: help
help: ## List the targets, by section in this file's order
	@awk '/^# -+ / { sub(/^# -+ /, ""); printf "%s%s\n", (sections++ ? "\n" : ""), $$0; next } \
		/^[a-z][a-zA-Z0-9_-]*:([^=]|$$)/ && /## / { \
			printf "  %-20s %s\n", substr($$0, 1, index($$0, ":") - 1), substr($$0, index($$0, "## ") + 3) }' \
		$(MAKEFILE_LIST)

.PHONY: run
run: install synth gate plan ## Install, synthesize, pass the policy gate and print the plan

.PHONY: test
test: install lint pytest web-test ## Everything CI runs: lint, types, the pytest suite and the web app tests

# ---------------------------------------------------------------- install
$(UV): requirements-bootstrap.lock
	$(PYTHON) -m venv $(BOOT)
	$(BOOT)/bin/pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
		-r requirements-bootstrap.lock
	touch $@

$(VENV)/.installed: requirements.lock $(UV)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(UV) pip sync --quiet --python $(PY) --require-hashes requirements.lock
	touch $@

$(TOOLS)/.installed: requirements-tools.lock $(UV)
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(UV) pip sync --quiet --python $(TOOLS)/bin/python --require-hashes requirements-tools.lock
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: install
install: $(VENV)/.installed $(TOOLS)/.installed node_modules/.installed ## Install the project venv, the scanner venv and the pinned CDK CLI from their locks

# `make lock SERVICE=<name>` compiles that service's lock alone, against the root lock as it
# is: a new dependency of one service re-resolves nothing else. Checked when make reads this
# file, so an unknown name stops before the prerequisites run.
LOCKED_SERVICES := $(patsubst services/%/requirements.lock,%,$(SERVICE_LOCKS))
ifneq ($(and $(filter lock,$(MAKECMDGOALS)),$(SERVICE)),)
$(if $(filter $(SERVICE),$(LOCKED_SERVICES)),,$(error make lock: SERVICE must be one of: $(LOCKED_SERVICES) (got '$(SERVICE)')))
endif
LOCKS_TO_COMPILE := $(if $(SERVICE),services/$(SERVICE)/requirements.lock,$(SERVICE_LOCKS))

define newline


endef

.PHONY: lock
lock: $(UV) ## Re-resolve every lock file from pyproject.toml and services/*/requirements.in; SERVICE=<name>: only services/<name>/requirements.lock
ifeq ($(SERVICE),)
	echo "uv==$(UV_VERSION)" | $(UV) pip compile - $(LOCK_FLAGS) -o requirements-bootstrap.lock
	$(UV) pip compile pyproject.toml $(SERVICE_REQUIREMENTS) --group pyproject.toml:dev \
		$(LOCK_FLAGS) -o requirements.lock
	$(UV) pip compile --group pyproject.toml:tools $(LOCK_FLAGS) -o requirements-tools.lock
endif
	$(foreach lock,$(LOCKS_TO_COMPILE),$(UV) pip compile $(lock:.lock=.in) -c requirements.lock $(LOCK_FLAGS) -o $(lock)$(newline))
ifeq ($(SERVICE),)
	npm install --package-lock-only --no-audit --no-fund --loglevel=error
endif

# ---------------------------------------------------------------- web front end
# services/web has its own package.json and lock (React + Vite); the infra
# deploys its build output, services/web/dist, to S3 behind CloudFront.
WEB := services/web

$(WEB)/node_modules/.installed: $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: web-install
web-install: $(WEB)/node_modules/.installed ## Install the web app's toolchain from services/web/package-lock.json

.PHONY: web-build
web-build: $(WEB)/node_modules/.installed ## Web app: production build into services/web/dist
	cd $(WEB) && npm run --silent build

.PHONY: web-test
web-test: $(WEB)/node_modules/.installed ## Web app: strict TypeScript check and the Vitest suite
	cd $(WEB) && npm run --silent typecheck
	cd $(WEB) && npm run --silent test

# ---------------------------------------------------------------- synth and policy gate
.PHONY: synth
synth: $(VENV)/.installed node_modules/.installed web-build ## Synthesize the pipeline and every environment into cdk.out (cdk-nag runs here)
	$(PY) -m config.model $(DELIVERY_CONFIG)
	rm -rf $(OUT)
	$(CDK) synth --quiet --no-notices --output $(OUT)

.PHONY: gate
gate: $(TOOLS)/.installed ## Policy gate over cdk.out: cfn-lint, checkov and the service-grant checks (cdk-nag already ran in synth)
	$(PY) -m policies.gate $(OUT)

.PHONY: plan
plan: $(VENV)/.installed ## Print the plan read from cdk.out: environments, stacks, pipeline stages
	$(PY) -m ops.review.plan $(OUT)

.PHONY: docs
docs: $(VENV)/.installed ## Regenerate the pipeline diagram in docs/pipeline.md from cdk.out (run make synth first)
	$(PY) -m ops.review.plan $(OUT) --write-doc docs/pipeline.md

# ---------------------------------------------------------------- quality
.PHONY: lint
lint: $(VENV)/.installed $(TOOLS)/.installed ## ruff (lint + format check), mypy --strict, the layer contracts, bandit, hadolint and the base-image rules
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	MYPYPATH=$(SERVICES_PYTHONPATH) $(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports
	$(MAKE) --no-print-directory bandit
	$(if $(DOCKERFILES),$(TOOLS)/bin/hadolint $(DOCKERFILES))
	$(PY) -m policies.images $(DOCKERFILES)

BANDIT_PATHS := app.py config infra pipeline ops policies $(SERVICE_IMPORT_ROOTS)

.PHONY: bandit
bandit: $(TOOLS)/.installed ## Security lint of the Python code (medium severity and up fail)
	$(TOOLS)/bin/bandit --quiet --recursive --severity-level medium --confidence-level medium $(BANDIT_PATHS)

.PHONY: workflow-lint
workflow-lint: $(VENV)/.installed $(TOOLS)/.installed ## GitHub workflows: actionlint, zizmor (offline, pedantic) and the house rules in policies/workflows.py
	$(TOOLS)/bin/actionlint
	$(TOOLS)/bin/zizmor --offline --persona=pedantic --no-progress .
	$(PY) -m policies.workflows

.PHONY: format
format: $(VENV)/.installed ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

.PHONY: audit
audit: $(TOOLS)/.installed ## Known vulnerabilities in every locked dependency (pip-audit --strict; needs its network)
	$(TOOLS)/bin/pip-audit --strict --require-hashes --disable-pip -r requirements.lock
	for lock in services/*/requirements.lock; do \
		$(TOOLS)/bin/pip-audit --strict --require-hashes --disable-pip -r $$lock; done

# ---------------------------------------------------------------- tests
.PHONY: pytest
# loadgroup: a module whose tests share a synthesis of its own marks them with one
# xdist_group, so one worker synthesizes it once instead of every worker that gets a test.
pytest: install web-build ## The pytest suite alone, in parallel (synth and the e2e test need the web build)
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# What the pipeline's Build step tests: every suite that needs no database, browser or site.
BUILD_STEP_TESTS := tests/config tests/infra tests/pipeline tests/ops tests/policies \
	tests/support tests/test_layers.py tests/test_layout.py tests/test_docs.py \
	tests/test_makefile_help.py tests/test_makefile_services.py

.PHONY: pytest-build
pytest-build: PYTEST_ARGS := $(BUILD_STEP_TESTS) $(PYTEST_ARGS)
pytest-build: pytest ## The pytest suites the pipeline's Build step runs (no database, browser or site)

.PHONY: snapshot-update
snapshot-update: install web-build ## Accept template changes into the snapshot files (review the diff!)
	$(PY) -m pytest tests/infra/test_snapshots.py --snapshot-update -n 0

# The end-to-end test drives Debian's chromium (Playwright's own browser
# download is not used). CI runs as root; elsewhere, say what to run.
CHROMIUM := /usr/bin/chromium

.PHONY: browser
browser: ## Install Debian's chromium for the end-to-end test (apt-get, as root) if it is missing
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "chromium is missing: run 'sudo apt-get update && sudo apt-get install -y chromium' (the e2e test skips without it)"; \
		exit 0; \
	fi; \
	DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null && \
	$(CHROMIUM) --version

# ---------------------------------------------------------------- images
BUILD_IMAGES = $(PY) -m ops.images.build
SCAN_GATE = $(PY) -m ops.images.scan_gate --threshold $(SCAN_THRESHOLD)

.PHONY: images
images: $(VENV)/.installed ## Build and push this commit's service images whose tags are not published yet (needs Docker)
	$(BUILD_IMAGES)

.PHONY: scan-gate
scan-gate: $(VENV)/.installed ## Fail on image scan findings at/above SCAN_THRESHOLD (default HIGH) for this commit's images
	$(SCAN_GATE)

# The pipeline's Images action (Build stage, beside Synth): one CodeBuild provisioning for both.
.PHONY: publish-images
publish-images: $(VENV)/.installed ## images, then scan-gate: what the pipeline's Images action runs (a finding fails the Build stage)
	$(BUILD_IMAGES)
	$(SCAN_GATE)

.PHONY: sbom
sbom: $(VENV)/.installed ## A CycloneDX SBOM per service image into $(OUT)/sbom (kept with the build artifact)
	mkdir -p $(OUT)/sbom
	for lock in services/*/requirements.lock; do \
		service=$$(basename $$(dirname $$lock)); \
		$(VENV)/bin/cyclonedx-py requirements $$lock --output-format JSON \
			--output-file $(OUT)/sbom/$$service.cdx.json; done

# Pull requests build each image locally with Buildx and scan it with Trivy; the findings
# pass through the same gate (threshold, reviewed exceptions) as the pipeline's ECR scan.
SERVICES_WITH_IMAGES := $(patsubst services/%/Dockerfile,%,$(DOCKERFILES))
LOCAL_IMAGE = local/$(SERVICE):pr

# The pull-request workflow's image matrix: every service folder with a Dockerfile, as JSON.
comma := ,
IMAGE_MATRIX = [$(subst $(eval) ,$(comma),$(patsubst %,"%",$(SERVICES_WITH_IMAGES)))]

.PHONY: image-matrix
image-matrix: ## GitHub Actions: write services=<JSON list of the services with a Dockerfile> to GITHUB_OUTPUT
	echo 'services=$(IMAGE_MATRIX)' >> "$${GITHUB_OUTPUT:?set by GitHub Actions}"

define require_service
$(if $(filter $(SERVICE),$(SERVICES_WITH_IMAGES)),,$(error SERVICE must be one of: $(SERVICES_WITH_IMAGES) (got '$(SERVICE)')))
endef

.PHONY: image-build
image-build: ## Build SERVICE's image locally with Docker Buildx, as the pipeline builds it (no push)
	$(require_service)
	docker buildx build --load --pull --file services/$(SERVICE)/Dockerfile \
		--tag $(LOCAL_IMAGE) services

# The image as Fargate starts it: ops/images/start_check.py runs the task definition's container
# (user, read-only root, mounts, environment) against a TLS PostgreSQL and moto until healthy.
.PHONY: image-start
image-start: synth ## Start SERVICE's local image the way Fargate starts it, against TLS PostgreSQL and moto, until healthy (needs Docker)
	$(require_service)
	PYTHONPATH=$(SERVICES_PYTHONPATH) $(PY) -m ops.images.start_check --service $(SERVICE) \
		--image $(LOCAL_IMAGE) --assembly $(OUT)

.PHONY: image-scan
image-scan: $(VENV)/.installed ## Trivy scan of SERVICE's local image, gated like scan-gate (SCAN_THRESHOLD, exceptions)
	$(require_service)
	$(PY) -m ops.images.trivy_scan --service $(SERVICE) --image $(LOCAL_IMAGE) --threshold $(SCAN_THRESHOLD)

# ---------------------------------------------------------------- review: what a change would deploy
# .github/workflows/ call diff and pr-comment; their inputs come from the environment
# (GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL, PR_NUMBER, HEAD_SHA, GITHUB_STEP_SUMMARY).
BASE ?= origin/main
.PHONY: diff
diff: $(VENV)/.installed node_modules/.installed web-build ## What merging would change, per environment: template diff of BASE (git ref) vs this tree, into build/diff/report.md
	$(PY) -m ops.review.ref_diff --base $(BASE) --out build/diff/report.md --workdir build/diff/work

.PHONY: pr-diff
pr-diff: diff ## What the pull request's comment shows: make diff, then the head pipeline's integrity (each violated invariant named) appended to build/diff/report.md
	$(PY) -m policies.pipeline_integrity build/diff/work/head.out --append build/diff/report.md --report-only

.PHONY: migration-check
migration-check: $(VENV)/.installed ## Rollback-safe migrations: those new since BASE must only expand, and BASE's service tests must pass on PostgreSQL migrated to this tree's head
	$(PY) -m ops.review.migrations check --base $(BASE)

.PHONY: pr-comment
pr-comment: $(VENV)/.installed ## Post build/diff/report.md (make diff) as the pull request's one diff comment and job summary (PR_NUMBER, GITHUB_TOKEN, GITHUB_REPOSITORY)
	$(PY) -m ops.review.pr_comment --report build/diff/report.md

.PHONY: change-sets
change-sets: $(VENV)/.installed ## CloudFormation's own verdict on the change sets waiting in ENV (PipelineChange, describe only), into build/reports/
	$(PY) -m ops.review.change_sets --environment $(ENV) --template-dir $(OUT) \
		--out build/reports/$(ENV)-change-sets.md $(if $(LOOKUP_ROLE_ARN),--role-arn $(LOOKUP_ROLE_ARN))

.PHONY: change-report
change-report: $(VENV)/.installed node_modules/.installed ## What deploying cdk.out would change in ENV: CloudFormation's review change sets (with PIPELINE_EXECUTION_ID) and the offline diff, into build/reports/
	$(PY) -m ops.review.change_report --environment $(ENV) --assembly $(OUT) \
		--out build/reports/$(ENV).md --commit "$${CODEBUILD_RESOLVED_SOURCE_VERSION:-local}" \
		$(if $(LOOKUP_ROLE_ARN),--role-arn $(LOOKUP_ROLE_ARN)) \
		$(if $(PIPELINE_EXECUTION_ID),--review-change-sets $(PIPELINE_EXECUTION_ID)) \
		$(if $(REPORT_S3_URI),--upload $(REPORT_S3_URI) --review-url "$(REVIEW_URL)") \
		$(if $(NOTIFY_TOPIC_ARN),--topic-arn $(NOTIFY_TOPIC_ARN)) $(CHANGE_REPORT_FLAGS)

# ---------------------------------------------------------------- release: post-deploy checks, bake, release record
# The pipeline runs the three as one action per environment: make verify (ops/release/verify.py).
# The checks refuse an empty SITE_URL (exit 2) instead of letting every check skip and pass.
DEPLOYED_CHECKS := $(PY) -m ops.release.checks

.PHONY: smoke
smoke: $(VENV)/.installed ## Post-deploy smoke checks against SITE_URL (health, ready, the web app)
	SITE_URL=$(SITE_URL) $(DEPLOYED_CHECKS) --markers smoke

.PHONY: contract
contract: $(VENV)/.installed ## Post-deploy API contract checks against SITE_URL
	SITE_URL=$(SITE_URL) $(DEPLOYED_CHECKS) --markers contract

.PHONY: integration
integration: $(VENV)/.installed ## Post-deploy integration checks against SITE_URL (the worker path)
	SITE_URL=$(SITE_URL) $(DEPLOYED_CHECKS) --markers integration

.PHONY: post-deploy-checks
post-deploy-checks: $(VENV)/.installed ## The checks CHECK_MARKERS selects (e.g. "smoke or contract") against SITE_URL
	SITE_URL=$(SITE_URL) $(DEPLOYED_CHECKS) --markers "$(CHECK_MARKERS)"

.PHONY: bake
bake: $(VENV)/.installed ## Wait BAKE_MINUTES and fail if a health alarm of ENV fires (BAKE_ROLE_ARN: role to read them)
	$(PY) -m ops.release.bake --environment $(ENV) --minutes $(BAKE_MINUTES) \
		$(if $(BAKE_ROLE_ARN),--role-arn $(BAKE_ROLE_ARN))

.PHONY: release-record
release-record: $(VENV)/.installed ## Record this commit as the release of ENV (make verify does, after the checks and the bake passed)
	$(PY) -m ops.release.record record --environment $(ENV)

.PHONY: verify
verify: $(VENV)/.installed ## After a deploy of ENV: checks (CHECK_MARKERS against SITE_URL), bake (BAKE_MINUTES), then the release record, each timed (the Verify-<env> action)
	$(PY) -m ops.release.verify --environment $(ENV) --markers "$(CHECK_MARKERS)" \
		--minutes $(BAKE_MINUTES) $(if $(BAKE_ROLE_ARN),--role-arn $(BAKE_ROLE_ARN))

.PHONY: releases
releases: $(VENV)/.installed ## What runs where: the release record (commit, image digests) of each environment
	$(PY) -m ops.release.record list

# ---------------------------------------------------------------- drift and rollback
# .github/workflows/ call these; inputs come from the environment, as for pr-comment.
COMMIT ?= $(ROLLBACK_COMMIT)

.PHONY: drift
drift: synth ## Drift of every deployed stack through the lookup roles, into build/drift/report.md and drift.json (AWS credentials of the pipeline account)
	$(PY) -m ops.drift.detect --assembly $(OUT) --out build/drift/report.md

.PHONY: drift-issue
drift-issue: $(VENV)/.installed ## Open, update or close the one "drift" issue from build/drift/drift.json (GITHUB_TOKEN, GITHUB_REPOSITORY)
	$(PY) -m ops.drift.issue --report build/drift/drift.json

.PHONY: rollback
rollback: $(VENV)/.installed node_modules/.installed web-build ## Revert COMMIT (empty: the last merge to main) on branch rollback/<sha>, template diff and PR text into build/rollback/
	$(PY) -m ops.rollback.revert --commit "$(COMMIT)"

.PHONY: rollback-pr
rollback-pr: $(VENV)/.installed ## Push the branch make rollback prepared and open its pull request (GITHUB_TOKEN, GITHUB_REPOSITORY)
	$(PY) -m ops.rollback.pr

# ---------------------------------------------------------------- first deployment
# docs/first-deploy.md follows these. Each prints the exact commands, read from cdk.out (make
# synth first); RUN=1 runs them with the credentials of the account they name. The execution
# policy of the first deployment is AdministratorAccess (POLICY=admin, CDK's own default);
# POLICY=generated attaches the least-privilege policies `make execution-policies` writes.
POLICY ?= admin
FIRST_DEPLOY = $(PY) -m ops.first_deploy --assembly $(OUT) --cdk $(CDK) $(if $(RUN),--run) \
	$(if $(filter admin,$(POLICY)),--administrator-access)

.PHONY: execution-policies
execution-policies: $(VENV)/.installed ## Least-privilege CloudFormation execution policies per account, from cdk.out, into build/bootstrap/
	$(FIRST_DEPLOY) execution-policies

.PHONY: bootstrap-pipeline
bootstrap-pipeline: $(VENV)/.installed node_modules/.installed ## cdk bootstrap of the pipeline account, in every region its stacks use (RUN=1 runs it)
	$(FIRST_DEPLOY) bootstrap --pipeline

.PHONY: bootstrap
bootstrap: $(VENV)/.installed node_modules/.installed ## cdk bootstrap of ENV's account in every region its stacks use, trusting the pipeline account (RUN=1 runs it)
	$(FIRST_DEPLOY) bootstrap --environment "$(ENV)"

.PHONY: connection-status
connection-status: $(VENV)/.installed ## Is the GitHub connection of the config AVAILABLE (approved)? (RUN=1 asks AWS)
	$(FIRST_DEPLOY) connection

.PHONY: deploy-pipeline
deploy-pipeline: $(VENV)/.installed node_modules/.installed ## The one cdk deploy of the pipeline stack and its support stacks (RUN=1 runs it)
	$(FIRST_DEPLOY) deploy-pipeline

.PHONY: release-change
release-change: $(VENV)/.installed ## Start a new pipeline execution of the current commit (RUN=1 runs it)
	$(FIRST_DEPLOY) release

.PHONY: delete-failed-stack
delete-failed-stack: $(VENV)/.installed ## Delete STACK if (and only if) its first create failed, so the pipeline can create it again (RUN=1 runs it)
	$(FIRST_DEPLOY) delete-failed-stack --stack "$(STACK)"

# ---------------------------------------------------------------- the app locally
.PHONY: dev
dev: $(VENV)/.installed web-build ## The whole app locally on one URL: moto SNS + SQS, every registered service, web app (Ctrl-C stops it)
	PYTHONPATH=$(SERVICES_PYTHONPATH) exec $(PY) -m todo_devstack

.PHONY: dev-api
dev-api: $(VENV)/.installed ## The Todo API alone (SQLite in data/ unless DATABASE_URL is set; no queue)
	@echo "Todo API on http://$${API_HOST:-127.0.0.1}:$${API_PORT:-8000}/api/todos (docs: /api/docs). Ctrl-C stops it."
	PYTHONPATH=$(SERVICES_PYTHONPATH) exec $(PY) -m todo_api

.PHONY: new-service
new-service: $(VENV)/.installed ## A new queue consumer: services/NAME/ and its registry table, for CONSUMES="<event type> ..." (docs/adding-a-service.md)
	$(PY) -m ops.new_service --name "$(NAME)" --consumes $(CONSUMES)

# ---------------------------------------------------------------- benchmarks
.PHONY: bench
bench: install synth ## Benchmarks: synth cost, the pipeline's critical path, the pytest suite's wall time (figures, never asserted)
	$(PY) -m bench.synth
	$(PY) -m bench.critical_path
	$(PY) -m bench.suite $(PYTEST_ARGS)

.PHONY: bench-checks
bench-checks: install ## Time the policy gate's scanners (with and without policies/checks) and the workflow linters over cdk.out
	$(PY) -m bench.checks

.PHONY: bench-api
bench-api: $(VENV)/.installed ## API load benchmark on loopback: list and create (uvicorn, PostgreSQL) vs a bare ASGI hello
	PYTHONPATH=$(SERVICES_PYTHONPATH) $(PY) -m bench.api_load $(BENCH_ARGS)

.PHONY: bench-worker
bench-worker: $(VENV)/.installed ## Worker drain benchmark on loopback: events/s from a backlog of 10,000 (moto SQS, PostgreSQL) vs the queue alone
	PYTHONPATH=$(SERVICES_PYTHONPATH) $(PY) -m bench.worker_load $(BENCH_ARGS)

# ---------------------------------------------------------------- clean
.PHONY: clean
clean: ## Remove build output (keeps the virtualenvs)
	rm -rf $(OUT) build .pytest_cache .mypy_cache .ruff_cache

.PHONY: distclean
distclean: clean ## Remove build output and every installed toolchain
	rm -rf $(VENV) $(TOOLS) $(BOOT) node_modules $(WEB)/node_modules $(WEB)/dist
