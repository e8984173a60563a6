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

package chart

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
	"github.com/pinq-dev/bunq-pinning-operator/test/localstack"
)

const (
	apiKey         = "sandbox_chart000000000000000000000000000000000000000000000000000"
	release        = "bpo"
	namespace      = "bunq-pinning-system"
	serviceAccount = "bunq-pinning-controller-manager"
)

// TestChartOnAnAPIServer installs the chart scoped to one namespace, runs the
// manager as the chart's ServiceAccount with the chart's RBAC and arguments,
// and pins, renews nothing, and unpins there; then upgrades the release to
// the whole cluster and uninstalls it, which leaves the CRD (and so every
// resource and pin) in place.
func TestChartOnAnAPIServer(t *testing.T) {
	ctx := context.Background()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	s, err := localstack.Start(localstack.Options{Root: root, APIKeys: []string{apiKey}})
	t.Cleanup(func() { _ = s.Stop() })
	if err != nil {
		t.Fatal(err)
	}
	kube := []string{"--kubeconfig", s.Kubeconfig, "-n", namespace}
	for _, ns := range []string{"payments", "elsewhere"} {
		if err := s.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	helm(t, append([]string{"install", release, chartDir, "--create-namespace", "--set", "watchNamespaces={payments}"}, kube...)...)

	// The namespaced RBAC reaches payments and the context namespace only.
	sa := serviceAccountClient(t, s)
	if err := sa.List(ctx, &bunqv1alpha1.BunqPinnedCertificateList{}); !apierrors.IsForbidden(err) {
		t.Errorf("the ServiceAccount lists resources cluster-wide (err %v); the RBAC is not namespaced", err)
	}
	if err := sa.List(ctx, &corev1.SecretList{}, client.InNamespace("elsewhere")); !apierrors.IsForbidden(err) {
		t.Errorf("the ServiceAccount reads Secrets of a namespace it does not watch (err %v)", err)
	}
	if err := sa.List(ctx, &bunqv1alpha1.BunqPinnedCertificateList{}, client.InNamespace("payments")); err != nil {
		t.Errorf("the ServiceAccount cannot list resources in its namespace: %v", err)
	}

	d := deployment(t, s)
	if args := d.Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--watch-namespaces=payments") {
		t.Fatalf("the Deployment's arguments %v lack --watch-namespaces=payments", args)
	}
	// The manager as the chart's ServiceAccount, with the chart's arguments.
	if _, err := s.StartDeployment(d); err != nil {
		t.Fatal(err)
	}

	ca := bunqtest.NewCA("Chart CA")
	for _, ns := range []string{"payments", "elsewhere"} {
		createStory(ctx, t, s, ca, ns)
	}
	eventually(t, "payments/hooks to be Ready", func() bool { return ready(ctx, s, "payments") })
	eventually(t, "bunq to hold its pin", func() bool { return pinCount(ctx, s) == 1 })
	untouched := &bunqv1alpha1.BunqPinnedCertificate{}
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: "elsewhere", Name: "hooks"}, untouched); err != nil {
		t.Fatal(err)
	}
	if len(untouched.Finalizers) > 0 || len(untouched.Status.Conditions) > 0 {
		t.Errorf("a resource outside the watched namespaces was served: %+v", untouched.Status)
	}
	if err := s.Client.Delete(ctx, &bunqv1alpha1.BunqPinnedCertificate{ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: "hooks"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the pin to go with the resource", func() bool { return pinCount(ctx, s) == 0 && gone(ctx, s, "payments") })
	if log, _ := os.ReadFile(s.Log("manager")); strings.Contains(strings.ToLower(string(log)), "forbidden") {
		t.Errorf("the manager was refused access with the chart's RBAC:\n%s", log)
	}

	// Upgraded to the whole cluster, with two replicas and a budget.
	helm(t, append([]string{"upgrade", release, chartDir, "--set", "replicas=2", "--set", "podDisruptionBudget.enabled=true"}, kube...)...)
	if err := s.Client.Get(ctx, client.ObjectKey{Name: "bunq-pinning-manager-role"}, &rbacv1.ClusterRole{}); err != nil {
		t.Errorf("after the upgrade to all namespaces: %v", err)
	}
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: "payments", Name: "bunq-pinning-watch-role"}, &rbacv1.Role{}); !apierrors.IsNotFound(err) {
		t.Errorf("the upgrade left the namespaced Role in payments (err %v)", err)
	}
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "bunq-pinning-controller-manager"}, &policyv1.PodDisruptionBudget{}); err != nil {
		t.Errorf("no PodDisruptionBudget after the upgrade: %v", err)
	}
	if d := deployment(t, s); *d.Spec.Replicas != 2 || slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--watch-namespaces=payments") {
		t.Errorf("after the upgrade the Deployment has %d replicas and args %v", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Args)
	}

	helm(t, append([]string{"uninstall", release, "--wait"}, kube...)...)
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "bunq-pinning-controller-manager"}, &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Deployment outlived helm uninstall (err %v)", err)
	}
	if err := s.Client.Get(ctx, client.ObjectKey{Name: "bunqpinnedcertificates.bunq.pinq.dev"}, &apiextensionsv1.CustomResourceDefinition{}); err != nil {
		t.Errorf("helm uninstall removed the CRD, and with it every resource: %v", err)
	}
}

// serviceAccountClient is a client with the chart's ServiceAccount's access.
func serviceAccountClient(t *testing.T, s *localstack.Stack) client.Client {
	t.Helper()
	file, err := s.ServiceAccountKubeconfig(namespace, serviceAccount)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", file)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func deployment(t *testing.T, s *localstack.Stack) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := s.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: "bunq-pinning-controller-manager"}, d); err != nil {
		t.Fatal(err)
	}
	return d
}

// createStory is what a tenant creates: an API key Secret, cert-manager's TLS
// Secret and the resource naming both.
func createStory(ctx context.Context, t *testing.T, s *localstack.Stack, ca *bunqtest.CA, ns string) {
	t.Helper()
	if err := s.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bunq-api-key"},
		StringData: map[string]string{"api-key": apiKey}}); err != nil {
		t.Fatal(err)
	}
	if _, err := localstack.WriteCertificate(ctx, s.Client, ca, ns, "hooks-tls", "hooks."+ns+".example.com", true); err != nil {
		t.Fatal(err)
	}
	obj := &bunqv1alpha1.BunqPinnedCertificate{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hooks"},
		Spec: bunqv1alpha1.BunqPinnedCertificateSpec{SecretName: "hooks-tls", Environment: bunqv1alpha1.EnvironmentSandbox,
			APIKeySecretRef: bunqv1alpha1.SecretKeyRef{Name: "bunq-api-key", Key: "api-key"}}}
	if err := s.Client.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
}

func ready(ctx context.Context, s *localstack.Stack, ns string) bool {
	obj := &bunqv1alpha1.BunqPinnedCertificate{}
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "hooks"}, obj); err != nil {
		return false
	}
	return meta.IsStatusConditionTrue(obj.Status.Conditions, bunqv1alpha1.ConditionReady)
}

func gone(ctx context.Context, s *localstack.Stack, ns string) bool {
	err := s.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "hooks"}, &bunqv1alpha1.BunqPinnedCertificate{})
	return apierrors.IsNotFound(err)
}

func pinCount(ctx context.Context, s *localstack.Stack) int {
	pins, err := s.BunqPins(ctx)
	if err != nil {
		return -1
	}
	return len(pins)
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	if localstack.Poll(100*time.Millisecond, 60*time.Second, ok) != nil {
		t.Fatalf("timed out waiting for %s", what)
	}
}
