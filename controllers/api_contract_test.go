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

package controllers

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
)

func validSpec() bunqv1alpha1.BunqPinnedCertificateSpec {
	return bunqv1alpha1.BunqPinnedCertificateSpec{
		SecretName:      "hooks-tls",
		APIKeySecretRef: bunqv1alpha1.SecretKeyRef{Name: "bunq-api-key", Key: "api-key"},
		Environment:     bunqv1alpha1.EnvironmentSandbox,
	}
}

func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "api-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

var _ = Describe("The BunqPinnedCertificate API", func() {
	var namespace string
	BeforeEach(func() { namespace = newNamespace() })

	create := func(mutate func(*bunqv1alpha1.BunqPinnedCertificateSpec)) error {
		spec := validSpec()
		mutate(&spec)
		obj := &bunqv1alpha1.BunqPinnedCertificate{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "hooks-", Namespace: namespace},
			Spec:       spec,
		}
		return k8sClient.Create(ctx, obj)
	}

	It("accepts a valid resource and adds no defaults to its spec", func() {
		obj := &bunqv1alpha1.BunqPinnedCertificate{
			ObjectMeta: metav1.ObjectMeta{Name: "hooks", Namespace: namespace},
			Spec:       validSpec(),
		}
		obj.Spec.APIKeySecretRef.Key = ""
		Expect(k8sClient.Create(ctx, obj)).To(Succeed())

		got := &bunqv1alpha1.BunqPinnedCertificate{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), got)).To(Succeed())
		Expect(got.Spec).To(Equal(obj.Spec), "the API server must not default any field (GitOps drift)")
	})

	It("accepts every optional field at its limits", func() {
		Expect(create(func(s *bunqv1alpha1.BunqPinnedCertificateSpec) {
			s.Environment = bunqv1alpha1.EnvironmentProduction
			s.Chain = bunqv1alpha1.ChainServedWithCA
			s.RetainPreviousFor = &metav1.Duration{Duration: 24 * time.Hour}
			s.DeletionPolicy = bunqv1alpha1.DeletionPolicyRetain
			s.Suspend = true
		})).To(Succeed())
		Expect(create(func(s *bunqv1alpha1.BunqPinnedCertificateSpec) {
			s.Chain = bunqv1alpha1.ChainLeaf
			s.RetainPreviousFor = &metav1.Duration{}
		})).To(Succeed())
	})

	DescribeTable("rejects invalid resources with a message naming the field",
		func(mutate func(*bunqv1alpha1.BunqPinnedCertificateSpec), field, message string) {
			err := create(mutate)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want an Invalid error, got %v", err)
			Expect(err.Error()).To(ContainSubstring(field))
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("empty secretName", func(s *bunqv1alpha1.BunqPinnedCertificateSpec) { s.SecretName = "" },
			"spec.secretName", "at least 1 chars long"),
		Entry("secretName not a DNS subdomain", func(s *bunqv1alpha1.BunqPinnedCertificateSpec) { s.SecretName = "Hooks_TLS" },
			"spec.secretName", "must be a DNS subdomain"),
		Entry("apiKeySecretRef.name not a DNS subdomain", func(s *bunqv1alpha1.BunqPinnedCertificateSpec) { s.APIKeySecretRef.Name = "bunq key" },
			"spec.apiKeySecretRef.name", "must be a DNS subdomain"),
		Entry("apiKeySecretRef.key with a slash", func(s *bunqv1alpha1.BunqPinnedCertificateSpec) { s.APIKeySecretRef.Key = "a/b" },
			"spec.apiKeySecretRef.key", "should match"),
		Entry("unknown environment", func(s *bunqv1alpha1.BunqPinnedCertificateSpec) { s.Environment = "Staging" },
			"spec.environment", `supported values: "Production", "Sandbox"`),
		Entry("unknown chain", func(s *bunqv1alpha1.BunqPinnedCertificateSpec) { s.Chain = "All" },
			"spec.chain", `supported values: "Served", "Leaf", "ServedWithCA"`),
		Entry("retainPreviousFor: 48h", func(s *bunqv1alpha1.BunqPinnedCertificateSpec) {
			s.RetainPreviousFor = &metav1.Duration{Duration: 48 * time.Hour}
		}, "spec.retainPreviousFor", "between 0s and 24h"),
		Entry("negative retainPreviousFor", func(s *bunqv1alpha1.BunqPinnedCertificateSpec) {
			s.RetainPreviousFor = &metav1.Duration{Duration: -time.Minute}
		}, "spec.retainPreviousFor", "between 0s and 24h"),
		Entry("deletionPolicy: Sometimes", func(s *bunqv1alpha1.BunqPinnedCertificateSpec) { s.DeletionPolicy = "Sometimes" },
			"spec.deletionPolicy", `supported values: "Delete", "Retain"`),
	)

	DescribeTable("rejects raw objects the typed client cannot express",
		func(spec map[string]any, field, message string) {
			obj := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": bunqv1alpha1.GroupVersion.String(),
				"kind":       "BunqPinnedCertificate",
				"metadata":   map[string]any{"name": "raw", "namespace": namespace},
				"spec":       spec,
			}}
			err := k8sClient.Create(ctx, obj)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want an Invalid error, got %v", err)
			Expect(err.Error()).To(ContainSubstring(field))
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("missing secretName", map[string]any{
			"apiKeySecretRef": map[string]any{"name": "k"}, "environment": "Sandbox",
		}, "spec.secretName", "Required value"),
		Entry("missing environment", map[string]any{
			"secretName": "s", "apiKeySecretRef": map[string]any{"name": "k"},
		}, "spec.environment", "Required value"),
		Entry("retainPreviousFor that is not a duration", map[string]any{
			"secretName": "s", "apiKeySecretRef": map[string]any{"name": "k"}, "environment": "Sandbox",
			"retainPreviousFor": "soon",
		}, "spec.retainPreviousFor", ""),
	)

	It("rejects a resource name that is not a DNS subdomain", func() {
		obj := &bunqv1alpha1.BunqPinnedCertificate{
			ObjectMeta: metav1.ObjectMeta{Name: "Hooks_1", Namespace: namespace},
			Spec:       validSpec(),
		}
		err := k8sClient.Create(ctx, obj)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want an Invalid error, got %v", err)
		Expect(err.Error()).To(ContainSubstring("metadata.name"))
	})

	It("serves the status subresource separately from the spec", func() {
		obj := &bunqv1alpha1.BunqPinnedCertificate{
			ObjectMeta: metav1.ObjectMeta{Name: "status", Namespace: namespace},
			Spec:       validSpec(),
		}
		Expect(k8sClient.Create(ctx, obj)).To(Succeed())
		// The controller writes status too: retry on conflicts.
		Eventually(func() error {
			cur := &bunqv1alpha1.BunqPinnedCertificate{}
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), cur); err != nil {
				return err
			}
			cur.Status.PinnedCertificateID = 42
			cur.Spec.Suspend = true
			return k8sClient.Status().Update(ctx, cur)
		}).Should(Succeed())

		got := &bunqv1alpha1.BunqPinnedCertificate{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), got)).To(Succeed())
		Expect(got.Status.PinnedCertificateID).To(Equal(int64(42)))
		Expect(got.Spec.Suspend).To(BeFalse(), "a status write must not change the spec")
	})

	It("is listed as bpc in the bunq category with the kubectl get columns", func() {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Name: "bunqpinnedcertificates.bunq.pinq.dev"}, crd)).To(Succeed())
		Expect(crd.Spec.Scope).To(Equal(apiextensionsv1.NamespaceScoped))
		Expect(crd.Spec.Names.ShortNames).To(ConsistOf("bpc"))
		Expect(crd.Spec.Names.Categories).To(ConsistOf("bunq"))
		Expect(crd.Spec.Versions).To(HaveLen(1))
		version := crd.Spec.Versions[0]
		Expect(version.Subresources.Status).NotTo(BeNil())

		columns, wide := map[string]string{}, map[string]string{}
		for _, c := range version.AdditionalPrinterColumns {
			if c.Priority == 0 {
				columns[c.Name] = c.JSONPath
			} else {
				wide[c.Name] = c.JSONPath
			}
		}
		Expect(columns).To(Equal(map[string]string{
			"Secret":    ".spec.secretName",
			"Pinned ID": ".status.pinnedCertificateID",
			"Ready":     `.status.conditions[?(@.type=="Ready")].status`,
			"Reason":    `.status.conditions[?(@.type=="Ready")].reason`,
			"Served":    `.status.conditions[?(@.type=="Served")].status`,
			"Expires":   ".status.certificate.notAfter",
			"Age":       ".metadata.creationTimestamp",
		}))
		Expect(wide).To(Equal(map[string]string{
			"User":      ".status.userID",
			"Last Sync": ".status.lastSyncTime",
		}), "kubectl get bpc -o wide adds these")
	})
})
