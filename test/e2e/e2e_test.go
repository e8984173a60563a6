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

// Package e2e drives the built manager and emulator binaries through kubectl
// only, as a user would: apply the CRD and a sample, wait for Ready, renew the
// certificate, delete, and check what bunq holds at each step.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
	"github.com/pinq-dev/bunq-pinning-operator/test/localstack"
)

const apiKey = "sandbox_e2e00000000000000000000000000000000000000000000000000000"

type e2e struct {
	t     *testing.T
	stack *localstack.Stack
	dir   string
}

func TestEndToEnd(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, bin := range []string{"manager", "bunq-emulator"} {
		if _, err := os.Stat(filepath.Join(root, "bin", bin)); err != nil {
			t.Fatalf("bin/%s is missing: run `make test-e2e`, which builds it", bin)
		}
	}
	s, err := localstack.Start(localstack.Options{Root: root, APIKeys: []string{apiKey}})
	e := &e2e{t: t, stack: s, dir: t.TempDir()}
	t.Cleanup(func() { e.stop() })
	if err != nil {
		t.Fatal(err)
	}

	// The one-file install must be accepted as it stands, on a cluster without it.
	e.kubectl("apply", "--dry-run=client", "-f", filepath.Join(root, "dist", "install.yaml"))
	e.kubectl("apply", "-k", filepath.Join(root, "config", "crd"))
	e.kubectl("wait", "--for=condition=Established", "crd/bunqpinnedcertificates.bunq.pinq.dev", "--timeout=30s")
	e.kubectl("create", "namespace", "payments")
	e.kubectl("create", "namespace", "bunq-pinning-system")
	// As deployed: with leader election, whose Lease lives in the context namespace.
	if err := s.StartOperator("--leader-elect"); err != nil {
		t.Fatal(err)
	}

	e.kubectl("create", "secret", "generic", "bunq-api-key", "-n", "payments", "--from-literal=api-key="+apiKey)
	ca := bunqtest.NewCA("E2E CA")
	first := e.writeTLS(ca, "create")
	e.kubectl("apply", "-f", filepath.Join(root, "config", "samples", "bunq_v1alpha1_bunqpinnedcertificate.yaml"))
	e.kubectl("wait", "--for=condition=Ready", "bpc/hooks", "-n", "payments", "--timeout=60s")

	firstID := e.jsonpath("{.status.pinnedCertificateID}")
	e.expectPins(map[string]string{firstID: first})
	e.expectColumns()

	// The callback endpoint: an ingress stand-in that follows the Secret 2s
	// late, checked at its address under the URL's name.
	ingress, err := localstack.FollowSecret(context.Background(), s.Client, client.ObjectKey{Namespace: "payments", Name: "hooks-tls"}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer ingress.Close()
	e.kubectl("patch", "bpc/hooks", "-n", "payments", "--type", "merge", "-p",
		`{"spec":{"endpoints":[{"url":"https://hooks.example.com/bunq","address":"`+ingress.Addr()+`"}]}}`)
	e.kubectl("wait", "--for=condition=Served", "bpc/hooks", "-n", "payments", "--timeout=60s")
	firstLeaf := e.jsonpath("{.status.certificate.fingerprint}")
	if got := e.jsonpath("{.status.endpoints[0].servedFingerprint}"); got != firstLeaf {
		t.Errorf("the endpoint serves %s, want the pinned leaf %s", got, firstLeaf)
	}

	second := e.writeTLS(ca, "apply")
	e.eventually("the renewed chain to be pinned", func() bool {
		id := e.jsonpath("{.status.pinnedCertificateID}")
		return id != firstID && e.jsonpath(`{.status.conditions[?(@.type=="Ready")].status}`) == "True"
	})
	secondID := e.jsonpath("{.status.pinnedCertificateID}")
	if got := e.jsonpath("{.status.previous[0].id}"); got != firstID {
		t.Errorf("status.previous[0].id = %s, want the old pin %s", got, firstID)
	}
	e.expectPins(map[string]string{firstID: first, secondID: second})
	e.eventually("the endpoint to be seen serving the renewed leaf", func() bool {
		return e.jsonpath("{.status.endpoints[0].servedFingerprint}") == e.jsonpath("{.status.certificate.fingerprint}")
	})
	if got := e.jsonpath(`{.status.conditions[?(@.type=="Served")].reason}`); got != "EndpointsServePinnedChain" {
		t.Errorf("Served reason %q after the switch", got)
	}

	// make uninstall and make undeploy refuse while a resource exists: deleting
	// the CRD would unpin it (docs/uninstall.md).
	for _, target := range []string{"uninstall", "undeploy"} {
		if out, err := localstack.Make(root, e.stack.Kubeconfig, target); err == nil || !strings.Contains(out, "refusing: 1 BunqPinnedCertificate") {
			t.Errorf("make %s with a resource left: %v\n%s", target, err, out)
		}
	}
	e.kubectl("get", "crd/bunqpinnedcertificates.bunq.pinq.dev")
	e.expectPins(map[string]string{firstID: first, secondID: second})

	e.kubectl("delete", "bpc/hooks", "-n", "payments", "--timeout=60s")
	e.expectPins(map[string]string{})
	e.kubectl("get", "lease/bunq-pinning-operator.pinq.dev", "-n", "bunq-pinning-system")

	// The samples as the README applies them, where cert-manager is installed
	// (its Certificate CRD stands in for it): the API server accepts them all.
	e.kubectl("apply", "-f", filepath.Join(root, "test", "testdata", "cert-manager-certificate-crd.yaml"))
	e.kubectl("wait", "--for=condition=Established", "crd/certificates.cert-manager.io", "--timeout=30s")
	out := e.kubectl("apply", "-k", filepath.Join(root, "config", "samples"), "--dry-run=server")
	for _, want := range []string{"namespace/payments", "certificate.cert-manager.io/hooks", "secret/bunq-api-key", "bunqpinnedcertificate.bunq.pinq.dev/hooks"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl apply -k config/samples/ did not apply %s:\n%s", want, out)
		}
	}
}

// kubectl runs kubectl against the local control plane and fails on an error.
func (e *e2e) kubectl(args ...string) string {
	e.t.Helper()
	out, err := e.run(args...)
	if err != nil {
		e.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (e *e2e) run(args ...string) (string, error) {
	cmd := exec.Command(localstack.Kubectl(), append([]string{"--kubeconfig", e.stack.Kubeconfig}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (e *e2e) jsonpath(path string) string {
	e.t.Helper()
	return strings.TrimSpace(e.kubectl("get", "bpc/hooks", "-n", "payments", "-o", "jsonpath="+path))
}

// writeTLS writes a renewed certificate the way cert-manager shapes its Secret,
// with kubectl only, and returns tls.crt.
func (e *e2e) writeTLS(ca *bunqtest.CA, verb string) string {
	e.t.Helper()
	crt, key := ca.Leaf("hooks.example.com", time.Now().Add(-time.Minute), time.Now().Add(90*24*time.Hour))
	crtFile, keyFile := filepath.Join(e.dir, "tls.crt"), filepath.Join(e.dir, "tls.key")
	if err := os.WriteFile(crtFile, []byte(crt), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, []byte(key), 0o600); err != nil {
		e.t.Fatal(err)
	}
	manifest := e.kubectl("create", "secret", "tls", "hooks-tls", "-n", "payments", "--cert", crtFile, "--key", keyFile,
		"--dry-run=client", "-o", "yaml")
	manifestFile := filepath.Join(e.dir, "secret.yaml")
	if err := os.WriteFile(manifestFile, []byte(manifest), 0o600); err != nil {
		e.t.Fatal(err)
	}
	e.kubectl(verb, "-f", manifestFile)
	e.kubectl("annotate", "--overwrite", "secret/hooks-tls", "-n", "payments",
		"cert-manager.io/certificate-name=hooks", "cert-manager.io/issuer-name=e2e-ca", "cert-manager.io/issuer-kind=Issuer")
	return crt
}

// expectPins waits until bunq holds exactly the given ids, each with its leaf.
func (e *e2e) expectPins(want map[string]string) {
	e.t.Helper()
	e.eventually(fmt.Sprintf("bunq to hold pins %v", keys(want)), func() bool {
		pins, err := e.stack.BunqPins(context.Background())
		return err == nil && localstack.HoldsExactly(pins, want)
	})
}

func (e *e2e) expectColumns() {
	e.t.Helper()
	out := e.kubectl("get", "bpc", "-n", "payments")
	header := strings.Fields(strings.SplitN(out, "\n", 2)[0])
	want := []string{"NAME", "SECRET", "PINNED", "ID", "READY", "REASON", "SERVED", "EXPIRES", "AGE"}
	if strings.Join(header, " ") != strings.Join(want, " ") {
		e.t.Errorf("kubectl get bpc header %v, want %v", header, want)
	}
	if !strings.Contains(out, "hooks-tls") || !strings.Contains(out, "Pinned") {
		e.t.Errorf("kubectl get bpc:\n%s", out)
	}
}

func (e *e2e) eventually(what string, ok func() bool) {
	e.t.Helper()
	if localstack.Poll(50*time.Millisecond, 60*time.Second, ok) != nil {
		e.t.Fatalf("timed out waiting for %s", what)
	}
}

// stop ends every process; on failure it prints each process's log.
func (e *e2e) stop() {
	if e.stack == nil {
		return
	}
	if e.t.Failed() {
		for _, name := range []string{"manager", "bunq-emulator"} {
			if data, err := os.ReadFile(e.stack.Log(name)); err == nil {
				e.t.Logf("--- %s log (%s) ---\n%s", name, e.stack.Log(name), data)
			}
		}
	}
	if err := e.stack.Stop(); err != nil {
		e.t.Log(err)
	}
	if !e.t.Failed() {
		_ = os.RemoveAll(e.stack.Dir)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
