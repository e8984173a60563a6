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

package docs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
	"github.com/pinq-dev/bunq-pinning-operator/test/localstack"
)

// world is what a page's reader has, built locally: a control plane, the
// bunq emulator in place of bunq, and two stand-ins that act while the
// blocks run. One issues the certificates of cert-manager Certificates as
// cert-manager's CA issuer would; the other runs the operator's Deployment as
// a kubelet would, as its ServiceAccount with its arguments (there is no node
// here), and stops it when the Deployment goes.
type world struct {
	root  string
	stack *localstack.Stack
	ca    *bunqtest.CA
	home  string // Helm's folders

	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{}
	operator *exec.Cmd
}

const (
	operatorNamespace  = "bunq-pinning-system"
	operatorDeployment = "bunq-pinning-controller-manager"
)

var certificateGVK = schema.GroupVersionKind{Group: "cert-manager.io", Version: "v1", Kind: "CertificateList"}

func startWorld(t *testing.T, root string) *world {
	t.Helper()
	// The emulator wants a key to start with; the pages make their own.
	s, err := localstack.Start(localstack.Options{Root: root, APIKeys: []string{"sandbox_docs" + strings.Repeat("0", 52)}})
	w := &world{root: root, stack: s, ca: bunqtest.NewCA("Docs CA"), home: t.TempDir(), done: make(chan struct{})}
	t.Cleanup(w.stop)
	if err != nil {
		t.Fatal(err)
	}
	// cert-manager is a prerequisite of the pages: its CRD is in place.
	if out, err := exec.Command(localstack.Kubectl(), "--kubeconfig", s.Kubeconfig, "apply", "-f",
		filepath.Join(root, "test", "testdata", "cert-manager-certificate-crd.yaml")).CombinedOutput(); err != nil {
		t.Fatalf("install the Certificate CRD: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go w.standIns(ctx, t)
	return w
}

func (w *world) stop() {
	w.stopOnce.Do(func() {
		if w.cancel != nil {
			w.cancel()
			<-w.done
		}
		if w.operator != nil {
			localstack.Kill(w.operator)
		}
		if w.stack != nil {
			_ = w.stack.Stop()
		}
	})
}

// env is the shell's environment: kubectl and the tools in bin/ on PATH, the
// local control plane as the current cluster, the emulator as bunq's sandbox.
func (w *world) env() []string {
	path := filepath.Join(w.root, "bin") + ":" + filepath.Dir(localstack.Kubectl()) + ":" + os.Getenv("PATH")
	return append(os.Environ(), "PATH="+path, "KUBECONFIG="+w.stack.Kubeconfig,
		"HELM_CACHE_HOME="+filepath.Join(w.home, "helm-cache"), "HELM_CONFIG_HOME="+filepath.Join(w.home, "helm-config"),
		"HELM_DATA_HOME="+filepath.Join(w.home, "helm-data"), "BUNQ_SANDBOX_URL="+w.stack.BunqURL+"/v1")
}

func (w *world) standIns(ctx context.Context, t *testing.T) {
	defer close(w.done)
	for {
		w.issueCertificates(ctx, t)
		w.runOperator(ctx, t)
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// issueCertificates writes the Secret of each Certificate not yet Ready and
// marks it Ready.
func (w *world) issueCertificates(ctx context.Context, t *testing.T) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(certificateGVK)
	if err := w.stack.Client.List(ctx, list); err != nil {
		return
	}
	for i := range list.Items {
		cert := &list.Items[i]
		if conds, _, _ := unstructured.NestedSlice(cert.Object, "status", "conditions"); len(conds) > 0 {
			continue
		}
		secret, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName")
		hosts, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
		if secret == "" || len(hosts) == 0 {
			continue
		}
		if _, err := localstack.WriteCertificate(ctx, w.stack.Client, w.ca, cert.GetNamespace(), secret, hosts[0], true); err != nil &&
			!apierrors.IsAlreadyExists(err) {
			t.Logf("cert-manager stand-in: %v", err)
			continue
		}
		_ = unstructured.SetNestedSlice(cert.Object, []any{map[string]any{"type": "Ready", "status": "True",
			"reason": "Ready", "message": "Certificate is up to date and has not expired"}}, "status", "conditions")
		if err := w.stack.Client.Update(ctx, cert); err != nil {
			t.Logf("cert-manager stand-in: %v", err)
		}
	}
}

// runOperator starts the operator's container as a process once its
// Deployment exists, and stops it when the Deployment is deleted.
func (w *world) runOperator(ctx context.Context, t *testing.T) {
	d := &appsv1.Deployment{}
	err := w.stack.Client.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: operatorDeployment}, d)
	switch {
	case apierrors.IsNotFound(err) || err == nil && d.DeletionTimestamp != nil:
		if w.operator != nil {
			localstack.Kill(w.operator)
			w.operator = nil
		}
	case err == nil && w.operator == nil:
		if w.operator, err = w.stack.StartDeployment(d); err != nil {
			t.Logf("kubelet stand-in: %v", err)
		}
	}
}
