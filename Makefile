# Every target creates (or refreshes) the virtual environment it needs; Python 3.11+ is the only prerequisite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= staging

.PHONY: venv deploy-venv preview cost test test-infra test-app lint shop bench bench-preview bench-shop clean
.PHONY: plan policy plan-summary comment-facts validate-manifests dockerfile-lint workflow-lint image cloud-preview \
	image-config deploy rollout-status smoke alarms verify-release rollback retain-image approval-summary release-approval \
	notify test-packages cost-prices pulumi-cli

# The policy pack's own environment (policies/PulumiPolicy.yaml: virtualenv .venv), which the Pulumi CLI runs the
# pack in for `pulumi preview/up --policy-pack policies`.
POLICY_VENV := policies/.venv

# The development set (tests, lint, the app, the program): exactly requirements-dev.lock, every file checked against
# its hash, as the deploy set below (docs/cicd.md "Locked dependencies").
$(VENV)/.installed: requirements-dev.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) $(HASHED_INSTALL) -r requirements-dev.lock
	@touch $@

$(POLICY_VENV)/.installed: policies/requirements.lock
	@test -x $(POLICY_VENV)/bin/python || $(PYTHON) -m venv $(POLICY_VENV)
	$(POLICY_VENV)/bin/python $(HASHED_INSTALL) -r policies/requirements.lock
	@touch $@

venv: $(VENV)/.installed $(POLICY_VENV)/.installed

# What the cloud targets (previews, deploys, their checks) need and nothing else, every file checked against the
# hashes of requirements.lock and policies/requirements.lock (pip-compile --generate-hashes of requirements.txt and
# policies/requirements.txt: docs/cicd.md "Locked dependencies"). The deploy jobs install only this.
LOCKS := requirements.lock policies/requirements.lock
HASHED_INSTALL := -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps
$(VENV)/.locked: $(LOCKS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) $(HASHED_INSTALL) -r requirements.lock
	@test -x $(POLICY_VENV)/bin/python || $(PYTHON) -m venv $(POLICY_VENV)
	$(POLICY_VENV)/bin/python $(HASHED_INSTALL) -r policies/requirements.lock
	@touch $@

deploy-venv: $(VENV)/.locked

# What `make preview` and `make cost` need and nothing else: the program's and the policy pack's dependencies and
# the policy config's validator (jsonschema, at requirements-dev.txt's pin); `make test` and `make lint` add the rest.
PREVIEW_EXTRAS := $(shell grep -h '^jsonschema==' requirements-dev.txt)
$(VENV)/.preview: requirements.txt policies/requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r policies/requirements.txt \
		$(PREVIEW_EXTRAS)
	@touch $@

preview-venv: $(VENV)/.preview $(POLICY_VENV)/.installed

## Offline preview of one stack (STACK=staging|prod): no Pulumi CLI, no AWS credentials, no network. AGAINST=REV
## shows what the working tree changes since git revision REV instead (docs/reviewing.md).
AGAINST ?=
preview: preview-venv
	$(PY) -m stacks preview $(STACK) $(if $(AGAINST),--against $(AGAINST))

## Monthly cost estimate of one stack (STACK=staging|prod) from its offline plan (docs/cost.md).
cost: preview-venv
	$(PY) -m stacks cost $(STACK)

# On every core, at most four (pytest-xdist): each worker is a test session of its own, and evaluates the stack
# plans its tests use once (tests/conftest.py). A single test runs without workers: `.venv/bin/python -m pytest PATH`.
PYTEST := $(PY) -m pytest --numprocesses auto --maxprocesses 4

## The whole test suite: infrastructure plans, policies, tooling and the shop app.
test: venv
	$(PYTEST)

test-infra: venv
	$(PYTEST) tests

test-app: venv
	$(PYTEST) app/tests

# pyright at package-lock.json's version, every file checked against its integrity hash (npm ci), in node_modules/.
node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

lint: venv node_modules/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	node_modules/.bin/pyright --pythonpath $(PY)

## The shop locally at http://127.0.0.1:8000 with SQLite, an in-process cache and local image files.
shop: venv
	cd app && ../$(PY) -m shop serve --dev

bench: bench-preview bench-shop

bench-preview: venv
	$(PY) bench/preview.py

bench-shop: venv
	$(PY) bench/shop.py

clean:
	rm -rf $(VENV) $(POLICY_VENV) .pytest_cache .ruff_cache artifacts

.PHONY: help doctor cloud-prerequisites first-deploy-phase-one preview-venv

## The targets and what each does (from the Makefile's ## comments).
help:
	@awk '/^## / { doc = doc substr($$0, 4) " "; next } /^$$/ { doc = "" } \
		/^[a-z][a-z-]*:/ && doc { sub(/:.*/, ""); printf "%-24s %s\n", $$0, doc; doc = "" }' $(firstword $(MAKEFILE_LIST))

## Before a first real deploy of STACK: example values left in Pulumi.STACK.yaml, the Pulumi CLI and its version,
## the AWS CLI, Node for lint, and with AWS credentials the account and the cluster's access roles (docs/getting-started.md).
doctor: venv
	$(PY) -m stacks doctor $(STACK)

# What every target that runs the Pulumi CLI needs before it starts (stacks/doctor.py require_pulumi_cli): one line,
# not a traceback. A rule without a recipe adds this prerequisite to each of those targets, wherever it is defined.
PULUMI_TARGETS := cloud-preview image-config deploy rollout-status rollback alarms $(if $(URL),,smoke)
cloud-prerequisites: deploy-venv
	@$(PY) -m stacks.doctor
$(PULUMI_TARGETS): cloud-prerequisites

## Phase one of a fresh stack's first deploy (prod): everything that needs neither the EKS control plane nor the
## Kubernetes API, the excludes computed from the plan; then `make deploy` from inside the VPC (docs/kubernetes.md).
first-deploy-phase-one: venv cloud-prerequisites
	excludes=$$($(PY) -m stacks first-deploy $(STACK)) && \
		pulumi up --stack $(if $(PULUMI_ORG),$(PULUMI_ORG)/)$(STACK) --policy-pack policies \
		--policy-pack-config policies/config/$(STACK).json --exclude-dependents $$excludes

## CI/CD (docs/cicd.md): each pipeline step is a target here, run alike by GitHub Actions and the Jenkinsfile;
## the logic lives in ci/. Results go to $(ARTIFACTS). Cloud targets need AWS credentials and the Pulumi CLI.
ARTIFACTS ?= artifacts
IMAGE ?=
IMAGE_REPOSITORY ?=
IMAGE_MIRROR ?=
IMAGE_TAG ?= $(shell git rev-parse HEAD)
IMAGE_PLATFORM ?= linux/amd64
URL ?=
SMOKE_MODE ?= cart
ALARM_KEYS ?=
COMMENT ?=
STATUS ?= failure
MESSAGE ?=
# Free text from outside (Jenkins build parameters, workflow env): recipes read these from the environment
# ("$$NAME"), so Make never expands them; `IMAGE_REPOSITORY='$(shell ...)'` in the environment stays a string.
export IMAGE IMAGE_REPOSITORY IMAGE_MIRROR STATUS MESSAGE

# Offline plan (JSON + Kubernetes manifests) of every stack, the policy pack over each, and their summary. With
# BASE_BRANCH (a pull request's target branch) the plan also holds what the change does to each stack since the merge
# base (git merge-base origin/BASE_BRANCH HEAD); BASE=REV compares with REV instead.
BASE ?=
BASE_BRANCH ?=
plan: venv
	$(PY) -m ci.offline plan --out $(ARTIFACTS) \
		$(if $(BASE_BRANCH),--base-branch "$(BASE_BRANCH)",$(if $(BASE),--against "$(BASE)"))

policy: venv
	$(PY) -m ci.offline policy --out $(ARTIFACTS)

plan-summary: venv
	$(PY) -m ci.offline summary --out $(ARTIFACTS) $(if $(COMMENT),--comment $(COMMENT))

# The plan's figures as strict JSON, which the privileged job that comments on a fork's pull request checks and
# renders itself (ci/comment_facts.py, ci/pr_comment.py).
comment-facts: venv
	$(PY) -m ci.comment_facts --out $(ARTIFACTS) --json $(ARTIFACTS)/pr-comment.json

validate-manifests: venv
	$(PY) -m ci.manifests $(ARTIFACTS)

dockerfile-lint: venv
	$(VENV)/bin/hadolint app/Dockerfile

workflow-lint: venv
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(VENV)/bin/zizmor --offline --no-progress .github/workflows

# Build the shop image once and push it (IMAGE_REPOSITORY, optional IMAGE_MIRROR); writes $(ARTIFACTS)/image.json.
image: venv
	$(PY) -m ci.image --repository "$$IMAGE_REPOSITORY" --tag "$(IMAGE_TAG)" --mirror "$$IMAGE_MIRROR" \
		--platform "$(IMAGE_PLATFORM)" --out $(ARTIFACTS)/image.json

cloud-preview: deploy-venv
	$(PY) -m ci.release preview $(STACK)

image-config: deploy-venv
	$(PY) -m ci.release image-config $(STACK)

# Deploy STACK with IMAGE (default: the one `make image` pushed) if this commit descends from STACK's last verified
# release (RELEASE_PARAMETER names its record), then test it.
deploy: deploy-venv
	$(PY) -m ci.release deploy $(STACK) --image "$$IMAGE" --artifacts $(ARTIFACTS)

# The release's outcome (Argo Rollouts): Healthy passes; Degraded (aborted) fails with the controller's message.
rollout-status: deploy-venv
	$(PY) -m ci.rollout $(STACK)

# SMOKE_MODE=cart (no order: prod) or checkout (a paid order with the test card: staging).
smoke: deploy-venv
	$(PY) -m ci.smoke $(if $(URL),"$(URL)",--stack $(STACK)) --mode $(SMOKE_MODE)

# Alarms that went off after this run's `make deploy` of STACK started; ALARM_KEYS=alb-5xx,shop-5xx,... narrows the
# gate to those alarms (ci/alarms.py).
alarms: deploy-venv
	$(PY) -m ci.alarms $(STACK) --artifacts $(ARTIFACTS) $(if $(ALARM_KEYS),--keys $(ALARM_KEYS))

# After the smoke test and the alarm gate passed: this run's release of STACK becomes the one a rollback returns to.
verify-release: deploy-venv
	$(PY) -m ci.release verified $(STACK) --artifacts $(ARTIFACTS)

# Re-deploys STACK's last verified release with its own commit's program (ci/release.py).
rollback: deploy-venv
	$(PY) -m ci.release rollback $(STACK) --artifacts $(ARTIFACTS)

retain-image: deploy-venv
	$(PY) -m ci.release retain --image "$$IMAGE" --artifacts $(ARTIFACTS)

# The cost estimate's price table from the AWS Price List API (needs AWS credentials; docs/cost.md).
cost-prices: venv
	$(PY) -m ci.cost_prices

# The same for the Jenkinsfile's prod prompt, from STACK's release record: $(ARTIFACTS)/approval-STACK.txt; refuses a
# commit that does not descend from STACK's last verified release (ci/release.py approval).
release-approval: deploy-venv
	$(PY) -m ci.release approval $(STACK) --artifacts $(ARTIFACTS)

# What the prod approval approves (commit, digest, changes since ENVIRONMENT's last release) as the job summary;
# fails for a commit that does not descend from that release. Standard library only, like notify.
ENVIRONMENT ?= production
approval-summary:
	$(PYTHON) -m ci.approval --environment "$(ENVIRONMENT)" --image "$$IMAGE"

# Standard library only: runs without the virtual environment, also when the run failed before creating it.
notify:
	$(PYTHON) -m ci.notify --status "$$STATUS" --message "$$MESSAGE"

# The Pulumi CLI at requirements.txt's pin (the SDK's version), checked against the SHA-256 its release publishes and
# unpacked into a directory of its own, which goes first on PATH (GITHUB_PATH) for the job's later steps: never a
# `pulumi` something else left on the runner (ci/pulumi_cli.py). Standard library only.
PULUMI_VERSION := $(shell sed -n 's/^pulumi==//p' requirements.txt)
pulumi-cli:
	@bin="$$($(PYTHON) -m ci.pulumi_cli $(PULUMI_VERSION) "$${RUNNER_TEMP:-$$(mktemp -d)}/pulumi-cli")" \
		&& echo "$$bin" >> "$${GITHUB_PATH:-/dev/null}" && echo "Pulumi CLI $(PULUMI_VERSION), verified, in $$bin"

# The Debian packages the tests drive (chromium, redis-server, openssl), installed where missing: under CI=true a
# missing one fails its tests. Standard library only, like notify: it runs before the virtual environment exists.
test-packages:
	$(PYTHON) -m ci.packages
