/*
Copyright 2026 The bunq-pinning-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package cluster_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
	"github.com/pinq-dev/bunq-pinning-operator/test/cluster"
	"github.com/pinq-dev/bunq-pinning-operator/test/localstack"
)

const (
	apiKey     = "sandbox_cluster0000000000000000000000000000000000000000000000000"
	tenantKey  = "sandbox_tenant00000000000000000000000000000000000000000000000000"
	operatorNS = "bunq-pinning-system"
	deployment = "deploy/bunq-pinning-controller-manager"
	image      = "localhost/bunq-pinning-operator:cluster-test"
)

// node is the test's view of the cluster: kubectl and what bunq holds.
type node struct {
	t   *testing.T
	c   *cluster.Cluster
	ca  *bunqtest.CA
	dir string
}

// TestOperatorOnANode installs dist/install.yaml on a single-node cluster and
// runs the operator as a pod, the way a user does, through kubectl only.
func TestOperatorOnANode(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the node needs root (containerd, kubelet, iptables): run make test-cluster as root")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"bin/images/operator.tar", "bin/images/pause.tar", "bin/bunq-emulator"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Fatalf("%s is missing: run `make test-cluster`, which builds it", f)
		}
	}
	began := time.Now()
	c, err := cluster.Start(root)
	n := &node{t: t, c: c, ca: bunqtest.NewCA("Cluster CA"), dir: t.TempDir()}
	t.Cleanup(func() {
		if err := c.Stop(t.Failed()); err != nil {
			t.Logf("stop: %v", err)
		}
		if t.Failed() {
			t.Logf("the cluster's logs are kept in %s", c.Dir)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StartEmulator(apiKey, tenantKey); err != nil {
		t.Fatal(err)
	}
	n.eventually("the node to be Ready", 2*time.Minute, func() bool {
		return n.get("node/"+cluster.NodeName, `{.status.conditions[?(@.type=="Ready")].status}`) == "True"
	})
	t.Logf("cluster up in %s", time.Since(began).Round(time.Second))
	if err := c.ImportImage(filepath.Join(root, "bin", "images", "operator.tar")); err != nil {
		t.Fatal(err)
	}

	w := n.watch()
	for _, step := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"install", n.install},
		{"story", n.story},
		{"pod deleted mid-rotation", n.podDeletedMidRotation},
		{"leader deleted mid-rotation", n.leaderDeletedMidRotation},
		{"namespace deleted", n.namespaceDeleted},
		{"metrics", n.metricsNeedAuthorization},
	} {
		if !t.Run(step.name, step.run) {
			w.finish()
			return // each step builds on the one before
		}
	}
	n.t = t
	w.finish()
	t.Run("uninstall", n.uninstall)
}

func (n *node) install(t *testing.T) {
	n.t = t
	began := time.Now()
	n.kubectl("apply", "-k", n.kustomization())
	n.kubectl("-n", operatorNS, "rollout", "status", deployment, "--timeout=2m")
	t.Logf("Deployment Available %s after kubectl apply", time.Since(began).Round(time.Second))
	pod := n.operatorPods()[0]
	if ro := n.get("-n "+operatorNS+" pod/"+pod, "{.spec.containers[0].securityContext.readOnlyRootFilesystem}"); ro != "true" {
		t.Errorf("the pod's root filesystem is not read-only")
	}
	proc := n.managerProcess()
	if proc.uid != "65532" {
		t.Errorf("the manager runs as uid %s, want 65532", proc.uid)
	}
	if !proc.readOnlyRoot {
		t.Errorf("the manager's root filesystem is writable")
	}
	if proc.env["KUBERNETES_SERVICE_HOST"] != cluster.APIServiceIP {
		t.Errorf("the manager reaches the API server at %q, not through the kubernetes Service %s",
			proc.env["KUBERNETES_SERVICE_HOST"], cluster.APIServiceIP)
	}
}

// story: an API key Secret, a cert-manager-shaped TLS Secret and a resource;
// Ready; a renewal pins the new chain; a delete unpins.
func (n *node) story(t *testing.T) {
	n.t = t
	n.kubectl("create", "namespace", "payments")
	n.kubectl("-n", "payments", "create", "secret", "generic", "bunq-api-key", "--from-literal=api-key="+apiKey)
	first := n.writeTLS("payments", "hooks-tls", "hooks.example.com")
	n.apply(resource("payments", "hooks", "hooks-tls", "bunq-api-key", "0s"))
	n.kubectl("-n", "payments", "wait", "--for=condition=Ready", "bpc/hooks", "--timeout=2m")
	firstID := n.get("-n payments bpc/hooks", "{.status.pinnedCertificateID}")
	n.expectPins(map[string]string{firstID: first})

	second := n.writeTLS("payments", "hooks-tls", "hooks.example.com")
	n.eventually("the renewal to be pinned and the old pin retired", time.Minute, func() bool {
		return n.get("-n payments bpc/hooks", "{.status.pinnedCertificateID}") != firstID && n.pinsAre(map[string]string{
			n.get("-n payments bpc/hooks", "{.status.pinnedCertificateID}"): second})
	})

	n.kubectl("-n", "payments", "delete", "bpc/hooks", "--timeout=2m")
	n.expectPins(map[string]string{})
}

// podDeletedMidRotation deletes the manager's pod right after a renewal: the
// new pod finishes the rotation, with nothing leaked or pinned twice.
func (n *node) podDeletedMidRotation(t *testing.T) {
	n.t = t
	first := n.writeTLS("payments", "hooks-tls", "hooks.example.com")
	n.apply(resource("payments", "hooks", "hooks-tls", "bunq-api-key", "0s"))
	n.kubectl("-n", "payments", "wait", "--for=condition=Ready", "bpc/hooks", "--timeout=2m")
	n.expectPins(map[string]string{n.get("-n payments bpc/hooks", "{.status.pinnedCertificateID}"): first})

	old := n.operatorPods()
	second := n.writeTLS("payments", "hooks-tls", "hooks.example.com")
	n.kubectl("-n", operatorNS, "delete", "pod", "--wait=false", old[0])
	n.rotated(second, old)
}

// leaderDeletedMidRotation runs two replicas and deletes the leader right
// after a renewal: the other takes over and finishes.
func (n *node) leaderDeletedMidRotation(t *testing.T) {
	n.t = t
	n.kubectl("-n", operatorNS, "scale", deployment, "--replicas=2")
	n.kubectl("-n", operatorNS, "rollout", "status", deployment, "--timeout=2m")
	pods := n.operatorPods()
	if len(pods) != 2 {
		t.Fatalf("running manager pods %v, want 2", pods)
	}
	var leader string
	n.eventually("a leader among the pods", time.Minute, func() bool {
		holder := n.get("-n "+operatorNS+" lease/bunq-pinning-operator.pinq.dev", "{.spec.holderIdentity}")
		for _, p := range pods {
			if strings.HasPrefix(holder, p+"_") {
				leader = p
				return true
			}
		}
		return false
	})
	second := n.writeTLS("payments", "hooks-tls", "hooks.example.com")
	deleted := time.Now()
	n.kubectl("-n", operatorNS, "delete", "pod", "--wait=false", leader)
	n.eventually("the other pod to lead", time.Minute, func() bool {
		holder := n.get("-n "+operatorNS+" lease/bunq-pinning-operator.pinq.dev", "{.spec.holderIdentity}")
		return holder != "" && !strings.HasPrefix(holder, leader+"_")
	})
	t.Logf("the other replica leads %s after the leader's pod was deleted", time.Since(deleted).Round(100*time.Millisecond))
	n.rotated(second, []string{leader})
	n.kubectl("-n", operatorNS, "scale", deployment, "--replicas=1")
}

// rotated waits until a pod other than the old ones has pinned crt as the
// only pin, and the resource is Ready with it.
func (n *node) rotated(crt string, old []string) {
	n.t.Helper()
	n.eventually("the renewal to be pinned by another pod, and the old pin retired", 2*time.Minute, func() bool {
		id := n.get("-n payments bpc/hooks", "{.status.pinnedCertificateID}")
		ready := n.get("-n payments bpc/hooks", `{.status.conditions[?(@.type=="Ready")].status}`)
		return ready == "True" && n.pinsAre(map[string]string{id: crt})
	})
	n.eventually("the old pods to be gone", 2*time.Minute, func() bool {
		out, _ := n.run("-n", operatorNS, "get", "pods", "-o", "jsonpath={.items[*].metadata.name}")
		for _, o := range old {
			if strings.Contains(out, o) {
				return false
			}
		}
		return true
	})
	n.kubectl("-n", operatorNS, "rollout", "status", deployment, "--timeout=2m")
	// The new pod's first sync finds nothing to do: still exactly the one pin.
	id := n.get("-n payments bpc/hooks", "{.status.pinnedCertificateID}")
	time.Sleep(2 * time.Second)
	if !n.pinsAre(map[string]string{id: crt}) {
		pins, _ := n.c.BunqPins(context.Background())
		n.t.Errorf("after the restart bunq holds %v, want only id %s", pins, id)
	}
}

// namespaceDeleted deletes a tenant's namespace, API key Secret and all, with
// the real namespace controller: its pins are removed and it finishes.
func (n *node) namespaceDeleted(t *testing.T) {
	n.t = t
	n.kubectl("create", "namespace", "tenant")
	n.kubectl("-n", "tenant", "create", "secret", "generic", "bunq-api-key", "--from-literal=api-key="+tenantKey)
	n.writeTLS("tenant", "shop-tls", "shop.example.com")
	n.apply(resource("tenant", "shop", "shop-tls", "bunq-api-key", "0s"))
	n.kubectl("-n", "tenant", "wait", "--for=condition=Ready", "bpc/shop", "--timeout=2m")
	id := n.get("-n tenant bpc/shop", "{.status.pinnedCertificateID}")
	n.kubectl("delete", "namespace", "tenant", "--timeout=3m")
	pins, err := n.c.BunqPins(context.Background())
	must(t, err)
	for _, p := range pins {
		if fmt.Sprint(p.ID) == id {
			t.Errorf("pin %s of the deleted namespace is still on bunq", id)
		}
	}
	if len(pins) != 1 {
		t.Errorf("bunq holds %d pins, want payments' one", len(pins))
	}
}

// metricsNeedAuthorization: a ServiceAccount token bound to the
// metrics-reader ClusterRole gets the metrics; one without it, or none, is refused.
func (n *node) metricsNeedAuthorization(t *testing.T) {
	n.t = t
	n.kubectl("create", "namespace", "monitoring")
	n.kubectl("-n", "monitoring", "create", "serviceaccount", "prometheus")
	n.kubectl("-n", "monitoring", "create", "serviceaccount", "stranger")
	n.kubectl("create", "clusterrolebinding", "prometheus-bunq-metrics", "--clusterrole=bunq-pinning-metrics-reader",
		"--serviceaccount=monitoring:prometheus")
	reader := strings.TrimSpace(n.kubectl("-n", "monitoring", "create", "token", "prometheus"))
	stranger := strings.TrimSpace(n.kubectl("-n", "monitoring", "create", "token", "stranger"))
	var code int
	var body string
	n.eventually("the metrics to be served to the reader", time.Minute, func() bool {
		code, body = n.metrics(reader)
		return code == http.StatusOK
	})
	if !strings.Contains(body, `bunq_pinning_ready{name="hooks",namespace="payments"} 1`) {
		t.Errorf("the metrics lack payments/hooks as ready:\n%.2000s", body)
	}
	if code, _ := n.metrics(stranger); code != http.StatusForbidden {
		t.Errorf("a token without the metrics-reader role got %d, want 403", code)
	}
	if code, _ := n.metrics(""); code != http.StatusUnauthorized {
		t.Errorf("no token got %d, want 401", code)
	}
}

// uninstall follows docs/uninstall.md: resources first, with the operator
// running, then make undeploy; nothing is left pinned or stuck.
func (n *node) uninstall(t *testing.T) {
	n.t = t
	n.kubectl("delete", "bpc", "--all", "-A", "--wait", "--timeout=2m")
	n.expectPins(map[string]string{})
	if out, err := localstack.Make(n.c.Root, n.c.Kubeconfig, "undeploy"); err != nil {
		t.Fatalf("make undeploy: %v\n%s", err, out)
	}
	n.eventually("the operator's namespace to be gone", 2*time.Minute, func() bool {
		_, err := n.run("get", "namespace", operatorNS)
		return err != nil
	})
	if out, _ := n.run("get", "crd", "bunqpinnedcertificates.bunq.pinq.dev"); !strings.Contains(out, "NotFound") {
		t.Errorf("the CRD is still there: %s", out)
	}
}

func resource(ns, name, secret, keySecret, retain string) string {
	return fmt.Sprintf(`apiVersion: bunq.pinq.dev/v1alpha1
kind: BunqPinnedCertificate
metadata: {name: %s, namespace: %s}
spec:
  secretName: %s
  apiKeySecretRef: {name: %s, key: api-key}
  environment: Sandbox
  retainPreviousFor: %s
`, name, ns, secret, keySecret, retain)
}

// kustomization is the install as the test applies it: dist/install.yaml as
// it stands, with only the image (built here) and the bunq URLs (the emulator,
// whose CA the pod trusts) changed.
func (n *node) kustomization() string {
	dir := filepath.Join(n.dir, "install")
	must(n.t, os.MkdirAll(dir, 0o755))
	install, err := os.ReadFile(filepath.Join(n.c.Root, "dist", "install.yaml"))
	must(n.t, err)
	must(n.t, os.WriteFile(filepath.Join(dir, "install.yaml"), install, 0o644))
	ca, err := os.ReadFile(n.c.CACert())
	must(n.t, err)
	must(n.t, os.WriteFile(filepath.Join(dir, "bunq-ca.crt"), ca, 0o644))
	name, tag, _ := strings.Cut(image, ":")
	k := fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [install.yaml]
images:
- {name: ghcr.io/pinq-dev/bunq-pinning-operator, newName: %s, newTag: %s}
configMapGenerator:
- name: bunq-emulator-ca
  namespace: %s
  files: [bunq-ca.crt]
  options: {disableNameSuffixHash: true}
patches:
- target: {kind: Deployment, name: bunq-pinning-controller-manager}
  patch: |
    - {op: add, path: /spec/template/spec/containers/0/args/-, value: "--bunq-sandbox-url=%s"}
    - {op: add, path: /spec/template/spec/containers/0/args/-, value: "--bunq-production-url=%s"}
    - {op: add, path: /spec/template/spec/containers/0/env/-, value: {name: SSL_CERT_FILE, value: /etc/bunq-ca/bunq-ca.crt}}
    - {op: add, path: /spec/template/spec/volumes, value: [{name: bunq-ca, configMap: {name: bunq-emulator-ca}}]}
    - {op: add, path: /spec/template/spec/containers/0/volumeMounts, value: [{name: bunq-ca, mountPath: /etc/bunq-ca, readOnly: true}]}
`, name, tag, operatorNS, cluster.EmulatorURL(), cluster.EmulatorURL())
	must(n.t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644))
	return dir
}

// writeTLS writes a TLS Secret as cert-manager shapes it, with kubectl, and
// returns tls.crt.
func (n *node) writeTLS(ns, name, host string) string {
	crt, key := n.ca.Leaf(host, time.Now().Add(-time.Minute), time.Now().Add(90*24*time.Hour))
	crtFile, keyFile := filepath.Join(n.dir, "tls.crt"), filepath.Join(n.dir, "tls.key")
	must(n.t, os.WriteFile(crtFile, []byte(crt), 0o600))
	must(n.t, os.WriteFile(keyFile, []byte(key), 0o600))
	manifest := n.kubectl("-n", ns, "create", "secret", "tls", name, "--cert", crtFile, "--key", keyFile, "--dry-run=client", "-o", "yaml")
	n.apply(manifest)
	n.kubectl("-n", ns, "annotate", "--overwrite", "secret/"+name, "cert-manager.io/certificate-name="+name,
		"cert-manager.io/issuer-name=local-ca", "cert-manager.io/issuer-kind=Issuer")
	return crt
}

func (n *node) apply(manifest string) {
	n.t.Helper()
	cmd := n.command("apply", "-f", "-")
	cmd.Stdin = strings.NewReader(manifest)
	if out, err := cmd.CombinedOutput(); err != nil {
		n.t.Fatalf("kubectl apply: %v\n%s\n%s", err, out, manifest)
	}
}

func (n *node) command(args ...string) *exec.Cmd {
	return exec.Command(localstack.Kubectl(), append([]string{"--kubeconfig", n.c.Kubeconfig}, args...)...)
}

func (n *node) kubectl(args ...string) string {
	n.t.Helper()
	out, err := n.run(args...)
	if err != nil {
		n.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (n *node) run(args ...string) (string, error) {
	cmd := n.command(args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// get reads a jsonpath of an object ("kind/name", optionally after "-n ns ").
func (n *node) get(object, path string) string {
	args := append(strings.Fields(object), "-o", "jsonpath="+path)
	out, err := n.run(append([]string{"get"}, args...)...)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

func (n *node) operatorPods() []string {
	out := n.kubectl("-n", operatorNS, "get", "pods", "-l", "control-plane=controller-manager",
		"--field-selector=status.phase=Running", "-o", "jsonpath={.items[*].metadata.name}")
	return strings.Fields(out)
}

func (n *node) pinsAre(want map[string]string) bool {
	pins, err := n.c.BunqPins(context.Background())
	return err == nil && localstack.HoldsExactly(pins, want)
}

func (n *node) expectPins(want map[string]string) {
	n.t.Helper()
	n.eventually(fmt.Sprintf("bunq to hold exactly %d pin(s)", len(want)), time.Minute, func() bool { return n.pinsAre(want) })
}

func (n *node) eventually(what string, timeout time.Duration, ok func() bool) {
	n.t.Helper()
	if localstack.Poll(200*time.Millisecond, timeout, ok) != nil {
		n.t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

// process is what the node's kernel says of the manager's process.
type process struct {
	uid          string
	readOnlyRoot bool
	env          map[string]string
}

// managerProcess finds the container's /manager among the node's processes.
func (n *node) managerProcess() process {
	n.t.Helper()
	var p process
	n.eventually("the manager's process", 30*time.Second, func() bool {
		exes, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, f := range exes {
			cmdline, err := os.ReadFile(f)
			if err != nil || !strings.HasPrefix(string(cmdline), "/manager\x00") {
				continue
			}
			dir := filepath.Dir(f)
			status, _ := os.ReadFile(filepath.Join(dir, "status"))
			for _, line := range strings.Split(string(status), "\n") {
				if fields := strings.Fields(line); len(fields) > 1 && fields[0] == "Uid:" {
					p.uid = fields[1]
				}
			}
			mounts, _ := os.ReadFile(filepath.Join(dir, "mounts"))
			for _, line := range strings.Split(string(mounts), "\n") {
				if fields := strings.Fields(line); len(fields) > 3 && fields[1] == "/" {
					p.readOnlyRoot = strings.HasPrefix(fields[3], "ro,") || fields[3] == "ro"
				}
			}
			environ, _ := os.ReadFile(filepath.Join(dir, "environ"))
			p.env = map[string]string{}
			for _, kv := range strings.Split(string(environ), "\x00") {
				if k, v, ok := strings.Cut(kv, "="); ok {
					p.env[k] = v
				}
			}
			return true
		}
		return false
	})
	return p
}

// metrics fetches /metrics through the metrics Service with a bearer token.
func (n *node) metrics(token string) (int, string) {
	ip := n.get("-n "+operatorNS+" service/bunq-pinning-controller-manager-metrics-service", "{.spec.clusterIP}")
	httpc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // the manager's self-signed certificate
	req, err := http.NewRequest(http.MethodGet, "https://"+ip+":8443/metrics", nil)
	must(n.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
