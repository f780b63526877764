# labfleet: the two everyday commands are `make up` (a default cohort on this Docker host,
# local Pulumi backend) and `make test` (every test; integration tests need a Docker engine,
# which .ci/docker-host.sh installs and starts). Both first check what they need (prereq/).

STACK        ?= dev
BACKEND_DIR  ?= $(CURDIR)/.pulumi-local
# The throwaway dev stack alone keeps its state in .pulumi-local/ on this machine, with a
# fixed, public passphrase. Any other STACK= is a real cohort: it uses the backend of
# `pulumi login` (or PULUMI_BACKEND_URL) and its own PULUMI_CONFIG_PASSPHRASE (or a backend
# with its own secrets provider); the program refuses the public one for it.
ifeq ($(STACK),dev)
export PULUMI_BACKEND_URL        ?= file://$(BACKEND_DIR)
export PULUMI_CONFIG_PASSPHRASE  ?= labfleet-local
endif
export PULUMI_SKIP_UPDATE_CHECK  := true
# prereq installs the one plugin the program uses (docker, at go.mod's version) explicitly.
# Left on, automatic acquisition would also try, on every run, to download a plugin that
# Pulumi's own SDK declares (cloud-sdk) and that labfleet never uses: about 1-2.5 s of retries
# per command on a machine without internet.
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION := true
# Pulumi runs 4 resource operations per CPU at once by default (8 on 2 cores), so a cohort's
# 12+ containers, volumes and networks went in waves, each wave waiting on Docker (a node's
# graceful stop, the provider's 2 s check that a volume or network is gone). These
# operations mostly wait: let a whole cohort's run at once.
export PULUMI_PARALLEL ?= 64
# The Go language host links the program on every preview and update (twice per `pulumi up`);
# without DWARF tables the link takes about a second less each time.
export GOFLAGS ?= -ldflags=-w
# Where no pulumi is on PATH, the check builds the pinned CLI and Go language host here
# (tools/build.sh); one already on PATH comes first.
export PATH := $(PATH):$(CURDIR)/tools/bin

SHELL := /bin/bash

.PHONY: prereq prereq-cli up preview destroy outputs handouts test bench bench-vm bench-kind lint docker-host kind-node-image clean-images

# The commands make runs on every call (the prerequisite check, status, handouts) are built
# into bin/ and rebuilt only when a Go file or go.mod/go.sum is newer: `go run` compiled them
# on every call, over a second each time, most of an everyday command's wall time.
GO_SOURCES := $(shell find . \( -name .git -o -name tools -o -name .pulumi-local \) -prune -o -name '*.go' ! -name '*_test.go' -print) go.mod go.sum
bin/prereq: $(GO_SOURCES)
	@go build -o $@ ./cmd/prereq
bin/status: $(GO_SOURCES)
	@go build -o $@ ./cmd/status
bin/handout: $(GO_SOURCES)
	@go build -o $@ ./cmd/handout

# Before any Pulumi command that runs the program: the Docker engine, the Pulumi CLI, the Go
# language host and the docker plugin go.mod pins, in one table; what is missing stops the
# target, with the fix.
prereq: bin/prereq
	@bin/prereq

# Before a command that only reads the stack (outputs, config): the Pulumi CLI alone, so they
# neither start nor install an engine, and work offline without the docker plugin. Any pulumi
# on PATH reads a stack: the full check (its version, 0.2-0.4 s) runs only where there is none.
prereq-cli:
	@command -v pulumi >/dev/null || { $(MAKE) -s bin/prereq && bin/prereq -cli-only; }

up: prereq
	@case "$$PULUMI_BACKEND_URL" in file://$(BACKEND_DIR)) mkdir -p $(BACKEND_DIR);; esac
	@pulumi stack select $(STACK) 2>/dev/null || pulumi stack init $(STACK)
	@# The seed goes in on stdin: on a command line, ps would show it to every user of the host.
	@pulumi config get labfleet:keySeed >/dev/null 2>&1 || \
		head -c 32 /dev/urandom | base64 | pulumi config set --secret labfleet:keySeed
	@# --yes with a preview first would only print the plan it does not wait on; the update
	@# prints each change as it makes it. `make preview` shows the plan without changing anything.
	@# A run that would replace node containers of a running cohort stops before any change,
	@# naming them; REPLACE_NODES=team1-w1,... (or all) allows it for this run only, whatever
	@# the shell has exported.
	LABFLEET_REPLACE_NODES='$(REPLACE_NODES)' pulumi up --yes --skip-preview --stack $(STACK)

preview: prereq
	pulumi preview --diff --stack $(STACK)

outputs: prereq-cli
	pulumi stack output --stack $(STACK) teams --json

# Per team: a card (.md, and .html to print), the private key, known_hosts, ssh_config (and a
# kubeconfig on day 3); all_teams.html prints every team's card, one per A4 page.
# WITH_KEYS=1 also prints each team's private key on its HTML card.
handouts: prereq-cli bin/handout
	pulumi stack output --stack $(STACK) --json --show-secrets | bin/handout -o handouts -with-keys=$(or $(WITH_KEYS),false)

# Every team at a glance: nodes, swarm, the day2 stack, the students' services, kind on day 3.
# Exits non-zero when anything is not ready; STATUS_FLAGS=-json prints JSON. It logs in as
# labfleet's admin user, whose key is derived from the key seed: the seed goes in through a
# pipe (<(...)), never on a command line. Built, not `go run`: go run turns every failure into
# exit status 1, and status's own codes tell "not ready" (1) from "cannot check" (2). make
# itself exits 2 on any failed recipe but prints the code ("Error 1"); a script that branches
# on it runs bin/status as this recipe does.
.PHONY: status results dashboard
STATUS = pulumi stack output --stack $(STACK) --json | bin/status -cohort $(STACK) \
		-seed-file <(pulumi config get labfleet:keySeed --stack $(STACK))
status: prereq-cli bin/status
	$(STATUS) $(STATUS_FLAGS)

# The instructor's live page of every team, refreshed every few seconds, on loopback:
# http://127.0.0.1:8088/ (DASHBOARD_ADDR=host:port elsewhere; a non-loopback address also
# needs DASHBOARD_ANYWHERE=1, since the page shows every node of the class). Ctrl-C stops it.
DASHBOARD_ADDR ?= 127.0.0.1:8088
dashboard: prereq-cli bin/status
	$(STATUS) -serve $(DASHBOARD_ADDR) $(if $(filter 1,$(DASHBOARD_ANYWHERE)),-serve-anywhere)

# Phase 3 of the Day-2 lab for the whole class: every labprobe run the students made (each
# kept on the node it ran on), the single container against the swarm, side by side with the
# class's spread; also written to results/results.csv and results/results.html (to print).
results: prereq-cli bin/status
	$(STATUS) -results results

# A cohort on existing machines has teams with a delete hook (it removes labfleet from the
# machines), which Pulumi runs only with --run-program; LABFLEET_DESTROY=1 makes the program
# register just that hook, so nothing is converged before everything is deleted. Other cohorts
# skip the program (about 2.5 s).
destroy: prereq
	@if pulumi stack export --stack $(STACK) | grep -q '"labfleet-machines-teardown"'; then \
		echo "LABFLEET_DESTROY=1 pulumi destroy --yes --skip-preview --run-program --stack $(STACK)"; \
		LABFLEET_DESTROY=1 pulumi destroy --yes --skip-preview --run-program --stack $(STACK); \
	else \
		echo "pulumi destroy --yes --skip-preview --stack $(STACK)"; \
		pulumi destroy --yes --skip-preview --stack $(STACK); \
	fi

docker-host:
	bash .ci/docker-host.sh

# Every package but the integration tests runs with the race detector; the integration tests
# (real engine, real SSH) run without it: 21-25 minutes here, plus the kind node image's
# first build (12-13 minutes on 2 cores) on a machine that has never built it. The lab apps
# (stacks/apps) are their own module, built inside their image with Debian's Go.
# The full log goes to test.log; the screen shows each package's result, failures, every test
# that could not run here (NOT RUN, never a pass) and the measurements (MEASURE), and after a
# failure the last lines of each failed test (tools/failures.awk). Without a
# Docker engine it starts one where it can, or says first that the integration tests will not run.
test: bin/prereq
	@bin/prereq -tests
	set -o pipefail; { go test -race -v -count=1 -timeout 20m $$(go list ./... | grep -v /bootstrap/integration) && \
		go test -v -count=1 -timeout 75m ./bootstrap/integration/; } 2>&1 | tee test.log | \
		grep --line-buffered -E '^(ok|FAIL|panic)|^--- (FAIL|SKIP)|NOT RUN|MEASURE|_test.go:[0-9]+: .*(Error|error|want)' || \
		{ awk -f tools/failures.awk test.log test.log; exit 1; }
	cd stacks/apps && go test -count=1 ./...

# labfleet's kind node image for day 3 (labfleet:kindNodeImage's default), built offline on
# the local engine: Kubernetes, etcd, CoreDNS and crictl from the Go module proxy, the rest
# from Debian. `pulumi up` builds it on any host that lacks it; this builds it ahead (the
# first time 12-13 minutes on 2 cores; again, with nothing changed, seconds).
kind-node-image:
	go run ./cmd/kind-node-image

# The images labfleet built on the local engine (label org.labfleet.image), which make destroy
# keeps as a cache; an image a running cohort uses is kept and named.
clean-images:
	go run ./cmd/clean-images

# In one run, each against a raw baseline measured in the same run on the same engine:
# bootstrap speed and node memory for TEAMS teams (raw `docker exec`; and the real pulumi
# up/no-op/destroy where the CLI and plugin are installed), then day 2 -> every team's kind
# cluster Ready and back for KIND_TEAMS teams (raw `kind create cluster` on the same node
# containers; builds labfleet's kind node image first if this host has none).
bench:
	go run ./cmd/bench -measure day2,day3 -teams $(or $(TEAMS),4) -kind-teams $(or $(KIND_TEAMS),1)

# VM nodes against dind nodes: boot to SSH, to swarm Ready, memory per idle node.
bench-vm:
	go run ./cmd/bench -measure vm

# The Day-3 part of make bench alone.
bench-kind:
	go run ./cmd/bench -measure day3 -kind-teams $(or $(KIND_TEAMS),$(TEAMS),1)

lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	go vet ./...
	cd stacks/apps && go vet ./...
