# The release this tree builds, and the image it is published as: always a
# version tag, never latest. Build your own with IMG=<registry>/<name>:<tag>.
RELEASE ?= v0.1.0
IMG ?= ghcr.io/pinq-dev/bunq-pinning-operator:$(RELEASE)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

# The Kubernetes version of the local control plane and node used by tests:
# the k8s.io/kubernetes module hack/tools/kube-apiserver builds them from (its
# go.mod is the one place the version is written; test/k8sassets reads it too).
ENVTEST_K8S_VERSION := $(shell awk '{sub(/^require /, "")} $$1 == "k8s.io/kubernetes" {sub(/^v/, "", $$2); print $$2; exit}' hack/tools/kube-apiserver/go.mod)
ETCD_VERSION ?= 3.6.16
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.1

GOOS ?= $(shell go env GOOS)
GOARCH ?= $(shell go env GOARCH)

# Setting SHELL to bash allows bash commands to be executed by recipes.
SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

LDFLAGS ?= -X main.version=$(VERSION)

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRD and RBAC manifests from the markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases
	hack/sync-chart.sh

.PHONY: generate
generate: controller-gen ## Generate zz_generated.deepcopy.go from the markers.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: verify-generated
verify-generated: controller-gen ## Fail when generated files differ from what the markers produce.
	@hack/verify-generated.sh "$(MAKE)"

.PHONY: fmt
fmt: ## Run go fmt against code.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet against code.
	go vet ./...

.PHONY: test
test: verify-generated verify-installer fmt vet envtest build emulator kubectl helm promtool cluster-parts images ## Run every test against a real API server (what CI runs).
	KUBECTL="$(KUBECTL)" go test $$(go list ./... | grep -v -e /controllers -e /test/e2e -e /test/reliability -e /test/chart -e /test/docs -e /test/cluster) -count=1
	go test ./test/chart/... -count=1 -v
	KUBECTL="$(KUBECTL)" go test ./test/docs/... -count=1 -v -timeout 30m
	KUBECTL="$(KUBECTL)" go test ./test/cluster/... -count=1 -v -timeout 30m
	KUBECTL="$(KUBECTL)" go test ./test/e2e/... -count=1 -v
	go test ./test/reliability/... -count=1 -v
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test ./controllers/... -count=1 -v -ginkgo.no-color

SOAK_ROUNDS ?= 10

.PHONY: soak
soak: envtest build ## The reliability scenarios (crash, faults, failover, API server trouble) SOAK_ROUNDS times, with totals.
	go test ./test/reliability/... -count=1 -v -timeout 3h -args -rounds=$(SOAK_ROUNDS) 2>&1 | tee bin/soak.log
	@echo; grep '^FIGURES' bin/soak.log

BENCH_ARGS ?=

.PHONY: bench
bench: envtest build emulator ## Benchmarks: rotation latency, cold start under bunq's limits, resync, memory (docs/benchmarks.md). BENCH_ARGS passes flags.
	go run ./hack/bench $(BENCH_ARGS)

.PHONY: test-cluster
test-cluster: cluster-parts images kubectl kustomize emulator ## The operator as a pod on a local single-node cluster, installed from dist/install.yaml (root only).
	KUBECTL="$(KUBECTL)" go test ./test/cluster/... -count=1 -v -timeout 30m

.PHONY: cluster
cluster: cluster-parts images kubectl emulator ## A local single-node cluster with the emulator, for kubectl; prints KUBECONFIG, Ctrl-C stops it (root only).
	go run ./hack/cluster

.PHONY: test-chart
test-chart: envtest build emulator helm ## The Helm chart: helm lint, template against dist/install.yaml, install/upgrade/uninstall.
	go test ./test/chart/... -count=1 -v

.PHONY: test-docs
test-docs: envtest build emulator kubectl helm ## Run the shell blocks of the README and docs/ in order, as written, on the local stack.
	KUBECTL="$(KUBECTL)" go test ./test/docs/... -count=1 -v -timeout 30m

.PHONY: test-alerts
test-alerts: promtool ## Unit-test the alert rules of config/prometheus with promtool.
	go test ./test/alerts/... -count=1 -v

.PHONY: test-e2e
test-e2e: envtest build emulator kubectl ## Black-box tests: the built binaries driven by kubectl (part of make test).
	KUBECTL="$(KUBECTL)" go test ./test/e2e/... -count=1 -v

##@ Build

.PHONY: build
build: ## Build the manager binary.
	go build -ldflags "$(LDFLAGS)" -o bin/manager .

.PHONY: emulator
emulator: ## Build the bunq emulator command.
	go build -o bin/bunq-emulator ./hack/bunq-emulator

.PHONY: demo
demo: envtest build emulator ## The main job: local control plane + bunq emulator + operator; pin, renew, delete. DEMO_KEEP=1 keeps it running.
	go run ./hack/demo

.PHONY: run
run: manifests generate fmt vet ## Run the manager from your host against the current kubeconfig.
	go run -ldflags "$(LDFLAGS)" . $(ARGS)

.PHONY: docker-build
docker-build: ## Build the operator image IMG (needs a Docker engine).
	docker build --build-arg VERSION=$(VERSION) -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the operator image IMG to its registry.
	docker push $(IMG)

.PHONY: build-installer
build-installer: manifests kustomize ## Write dist/install.yaml, the one-file install (committed).
	mkdir -p dist
	hack/build-installer.sh "$(KUSTOMIZE)" "$(IMG)" > dist/install.yaml

.PHONY: verify-installer
verify-installer: manifests kustomize ## Fail when dist/install.yaml is not what build-installer writes.
	@hack/build-installer.sh "$(KUSTOMIZE)" "$(IMG)" | diff -u dist/install.yaml - >/dev/null || \
		{ echo "dist/install.yaml is stale: run make build-installer and commit it"; exit 1; }

##@ Deployment

.PHONY: install
install: manifests kustomize ## Install the CRD into the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) apply -f -

.PHONY: uninstall
uninstall: manifests kustomize ## Remove the CRD; refused while BunqPinnedCertificates exist (docs/uninstall.md).
	hack/uninstall.sh "$(KUBECTL)" "$(KUSTOMIZE)" "$(IMG)" crd

.PHONY: deploy
deploy: manifests kustomize ## Deploy the operator (image IMG) to the cluster of the current kubeconfig.
	hack/build-installer.sh "$(KUSTOMIZE)" "$(IMG)" | $(KUBECTL) apply -f -

.PHONY: undeploy
undeploy: kustomize ## Remove the operator, then its CRD and namespace; refused while BunqPinnedCertificates exist (docs/uninstall.md).
	hack/uninstall.sh "$(KUBECTL)" "$(KUSTOMIZE)" "$(IMG)" all

##@ Dependencies

LOCALBIN ?= $(shell pwd)/bin
$(LOCALBIN):
	mkdir -p $(LOCALBIN)

CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
# kubectl from PATH, or one built into bin/ on machines without it.
KUBECTL ?= $(or $(shell command -v kubectl 2>/dev/null),$(LOCALBIN)/kubectl)
KUSTOMIZE ?= $(LOCALBIN)/kustomize
HELM ?= $(LOCALBIN)/helm
PROMTOOL ?= $(LOCALBIN)/promtool
ENVTEST_ASSETS ?= $(LOCALBIN)/k8s/$(ENVTEST_K8S_VERSION)-$(GOOS)-$(GOARCH)

.PHONY: controller-gen
controller-gen: | $(LOCALBIN) ## Build controller-gen into bin/ if missing or of another version.
	@$(CONTROLLER_GEN) --version 2>/dev/null | grep -q "$(CONTROLLER_TOOLS_VERSION)$$" || \
		GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)

.PHONY: kustomize
kustomize: | $(LOCALBIN) ## Build kustomize into bin/ if missing or of another version.
	@$(KUSTOMIZE) version 2>/dev/null | grep -q "$(KUSTOMIZE_VERSION)" || \
		GOBIN=$(LOCALBIN) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

.PHONY: kubectl
kubectl: $(KUBECTL) ## Use kubectl from PATH, or build it into bin/ when there is none.
$(LOCALBIN)/kubectl:
	cd hack/tools/kube-apiserver && go build -o $@ k8s.io/kubernetes/cmd/kubectl

# The node's parts come from the same k8s.io/kubernetes module as kube-apiserver,
# with the version the API server reports set.
K8S_LDFLAGS = -X k8s.io/component-base/version.gitVersion=v$(ENVTEST_K8S_VERSION) \
	-X k8s.io/component-base/version.gitMajor=$(word 1,$(subst ., ,$(ENVTEST_K8S_VERSION))) \
	-X k8s.io/component-base/version.gitMinor=$(word 2,$(subst ., ,$(ENVTEST_K8S_VERSION))) \
	-X k8s.io/component-base/version.gitTreeState=clean
CLUSTER_PARTS = kube-controller-manager kube-scheduler kubelet kube-proxy

.PHONY: cluster-parts
cluster-parts: envtest $(addprefix $(ENVTEST_ASSETS)/,$(CLUSTER_PARTS)) ## Build the node's Kubernetes binaries into bin/k8s if missing.
	@command -v containerd >/dev/null && command -v runc >/dev/null && test -x /usr/lib/cni/bridge || \
		{ echo "containerd, runc and the CNI plugins are missing: apt-get install containerd runc containernetworking-plugins iptables"; exit 1; }

$(addprefix $(ENVTEST_ASSETS)/,$(CLUSTER_PARTS)):
	mkdir -p $(ENVTEST_ASSETS)
	cd hack/tools/kube-apiserver && go build -ldflags "$(K8S_LDFLAGS)" -o $@ k8s.io/kubernetes/cmd/$(notdir $@)

# The images of the cluster test, built without a Docker engine: the manager
# as the Dockerfile's runtime stage has it (static, /manager, user 65532, CA
# certificates, no shell), and the pod sandbox's pause image.
CLUSTER_IMG ?= localhost/bunq-pinning-operator:cluster-test
IMAGE_TOOL ?= $(LOCALBIN)/image

.PHONY: images
images: $(IMAGE_TOOL) ## Build the operator and pause images as tarballs into bin/images (for ctr images import).
	mkdir -p $(LOCALBIN)/images
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags "$(LDFLAGS)" -o $(LOCALBIN)/images/manager .
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -o $(LOCALBIN)/images/pause ./test/cluster/pause
	$(IMAGE_TOOL) --tag $(CLUSTER_IMG) --out $(LOCALBIN)/images/operator.tar --entrypoint /manager --user 65532:65532 \
		--file /manager=$(LOCALBIN)/images/manager --file /etc/ssl/certs/ca-certificates.crt=/etc/ssl/certs/ca-certificates.crt
	$(IMAGE_TOOL) --tag registry.k8s.io/pause:3.10 --out $(LOCALBIN)/images/pause.tar --entrypoint /pause --user 65535:65535 \
		--file /pause=$(LOCALBIN)/images/pause

$(IMAGE_TOOL):
	cd hack/tools/image && go build -o $@ .

.PHONY: helm
helm: $(HELM) ## Build Helm (hack/tools/helm pins it) into bin/ if missing.
$(LOCALBIN)/helm:
	cd hack/tools/helm && go build -o $@ helm.sh/helm/v3/cmd/helm

.PHONY: promtool
promtool: $(PROMTOOL) ## Build promtool (hack/tools/promtool pins it) into bin/ if missing.
$(LOCALBIN)/promtool:
	cd hack/tools/promtool && go build -o $@ github.com/prometheus/prometheus/cmd/promtool

.PHONY: envtest
envtest: $(ENVTEST_ASSETS)/kube-apiserver $(ENVTEST_ASSETS)/etcd ## Build kube-apiserver and etcd for tests into bin/k8s if missing.

# kube-apiserver and etcd come from their own modules under hack/tools, so that
# k8s.io/kubernetes never enters the operator's go.mod. A cold build takes minutes.
$(ENVTEST_ASSETS)/kube-apiserver:
	mkdir -p $(ENVTEST_ASSETS)
	cd hack/tools/kube-apiserver && go build -o $@ k8s.io/kubernetes/cmd/kube-apiserver

$(ENVTEST_ASSETS)/etcd:
	mkdir -p $(ENVTEST_ASSETS)
	cd hack/tools/etcd && go build -o $@ go.etcd.io/etcd/server/v3
