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
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
)

var _ = Describe("Pinning and rotation", func() {
	var w *world
	BeforeEach(func() { w = newWorld() })

	It("pins the chain and records it in status", func() {
		crt := w.issue("hooks-tls", "hooks.example.com")
		obj := w.resource("hooks")
		got := waitPinned(obj, crt)

		want := chainOf(crt)
		Expect(w.pinsOnBunq()).To(Equal(map[int64]string{got.Status.PinnedCertificateID: want.fingerprint}))
		Expect(got.Status.UserID).To(Equal(w.emu.UserID(w.apiKey)))
		Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
		Expect(got.Status.LastSyncTime).NotTo(BeNil())
		Expect(got.Status.Pending).To(BeEmpty())
		Expect(got.Status.Certificate.DNSNames).To(Equal([]string{"hooks.example.com"}))
		Expect(got.Status.Certificate.ChainLength).To(Equal(int32(2)))
		Expect(got.Finalizers).To(ContainElement(Finalizer))
		Expect(ready(got).Status).To(Equal(metav1.ConditionTrue))
		w.waitEvent(obj, "Pinned")

		Expect(testutil.ToFloat64(certificateNotAfter.WithLabelValues(w.ns, "hooks"))).
			To(Equal(float64(got.Status.Certificate.NotAfter.Unix())))
		Expect(testutil.ToFloat64(apiRequests.WithLabelValues("POST", bunqtest.EndpointPins, "200"))).To(BeNumerically(">=", 1))
	})

	It("tells of a pin in an event only once the status records it", func() {
		statusWriteDelays.Store(w.ns, 300*time.Millisecond)
		DeferCleanup(func() { statusWriteDelays.Delete(w.ns) })
		w.issue("hooks-tls", "hooks.example.com")
		obj := w.resource("hooks")
		Eventually(func() []string { return w.events(obj) }).WithPolling(5 * time.Millisecond).
			Should(ContainElement(HavePrefix("Pinned: ")))
		id := get(obj).Status.PinnedCertificateID
		Expect(id).NotTo(BeZero(), "the event came before the status")
		Expect(w.events(obj)).To(ContainElement(And(HavePrefix("Pinned: "), ContainSubstring(itoa(id)))))
	})

	It("pins the new chain first on renewal and retires the old one after the overlap", func() {
		first := w.issue("hooks-tls", "hooks.example.com")
		obj := w.resource("hooks")
		oldID := waitPinned(obj, first).Status.PinnedCertificateID

		second := w.issue("hooks-tls", "hooks.example.com")
		got := waitPinned(obj, second)
		newID := got.Status.PinnedCertificateID
		Expect(newID).NotTo(Equal(oldID))
		Expect(got.Status.Previous).To(HaveLen(1))
		Expect(got.Status.Previous[0].ID).To(Equal(oldID))
		Expect(got.Status.Previous[0].RetireAfter.Time).To(BeTemporally("~", testNow().Add(5*time.Minute), 30*time.Second))
		Expect(w.pinsOnBunq()).To(HaveLen(2), "both chains stay pinned during the overlap")
		w.waitEvent(obj, "Rotated")

		advanceClock(6 * time.Minute)
		poke(obj)
		Eventually(func() []bunqv1alpha1.PreviousPin { return get(obj).Status.Previous }).Should(BeEmpty())
		Expect(w.pinsOnBunq()).To(Equal(map[int64]string{newID: chainOf(second).fingerprint}))
		w.waitEvent(obj, "Retired")
	})

	It("retires the old chain at once with retainPreviousFor: 0s", func() {
		first := w.issue("hooks-tls", "hooks.example.com")
		obj := w.resource("hooks", func(s *bunqv1alpha1.BunqPinnedCertificateSpec) {
			s.RetainPreviousFor = &metav1.Duration{}
		})
		waitPinned(obj, first)
		second := w.issue("hooks-tls", "hooks.example.com")
		got := waitPinned(obj, second)
		Eventually(w.pinsOnBunq).Should(Equal(map[int64]string{got.Status.PinnedCertificateID: chainOf(second).fingerprint}))
		Eventually(func() []bunqv1alpha1.PreviousPin { return get(obj).Status.Previous }).Should(BeEmpty())
	})

	It("makes no bunq call for Secret changes that keep the chain, nor in steady state", func() {
		crt := w.issue("hooks-tls", "hooks.example.com")
		obj := w.resource("hooks")
		pinned := waitPinned(obj, crt)
		Eventually(w.calls).WithTimeout(2 * time.Second).Should(BeNumerically(">", 0))
		time.Sleep(200 * time.Millisecond)
		before := w.calls()

		s := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: w.ns, Name: "hooks-tls"}, s)).To(Succeed())
		s.Labels = map[string]string{"touched": "yes"}
		s.Annotations["cert-manager.io/alt-names"] = "hooks.example.com"
		_, newKey := w.pki.intermediate.Leaf("other", time.Now(), time.Now().Add(time.Hour))
		s.Data["tls.key"] = []byte(newKey)
		w.keys = append(w.keys, newKey)
		Expect(k8sClient.Update(ctx, s)).To(Succeed())

		Consistently(w.calls).WithTimeout(1500 * time.Millisecond).Should(Equal(before))

		// Status is not rewritten and the condition keeps its transition time.
		after := get(obj)
		Expect(ready(after).LastTransitionTime).To(Equal(ready(pinned).LastTransitionTime))
		Expect(after.Status.LastSyncTime).To(Equal(pinned.Status.LastSyncTime))
	})

	It("adopts a pin of the same chain instead of pinning it twice", func() {
		crt := w.issue("hooks-tls", "hooks.example.com")
		existing := w.emu.PinOutOfBand(w.apiKey, chainOf(crt).pems...)
		obj := w.resource("hooks")
		got := waitPinned(obj, crt)
		Expect(got.Status.PinnedCertificateID).To(Equal(existing))
		Expect(w.emu.Count("POST", bunqtest.EndpointPins)).To(BeZero())
		w.waitEvent(obj, "Adopted")
	})

	It("shows Pinning while a pin is under way", func() {
		crt := w.issue("hooks-tls", "hooks.example.com")
		w.emu.Inject(bunqtest.Fault{Method: "POST", Endpoint: bunqtest.EndpointPins, Delay: 2 * time.Second, Times: 1})
		obj := w.resource("hooks")
		Eventually(func() string { return get(obj).Status.Pending }).Should(Equal(chainOf(crt).fingerprint),
			"the chain is recorded as pending before bunq is asked")
		Expect(ready(get(obj)).Reason).To(Equal(bunqv1alpha1.ReasonPinning))
		waitPinned(obj, crt)
	})
})

// settleTimeout is how long a test waits for a request with an unknown outcome
// to be settled: the late-commit window and a pass.
const settleTimeout = testClientTimeout + 5*time.Second

var _ = Describe("Crash recovery", func() {
	var w *world
	BeforeEach(func() { w = newWorld() })

	// A manager killed mid-pin leaves the chain as pending, never recorded.
	It("adopts the pin a crash left unrecorded and removes duplicates", func() {
		crt := w.issue("hooks-tls", "hooks.example.com")
		c := chainOf(crt)
		w.emu.PinOutOfBand(w.apiKey, c.pems...)
		newest := w.emu.PinOutOfBand(w.apiKey, c.pems...)
		obj := w.resumeWith("hooks", func(st *bunqv1alpha1.BunqPinnedCertificateStatus) { st.Pending = c.fingerprint })
		got := waitPinned(obj, crt)
		Expect(got.Status.PinnedCertificateID).To(Equal(newest))
		Expect(got.Status.Pending).To(BeEmpty())
		// The crashed request might still commit: duplicates go once its window has passed.
		Eventually(w.pinsOnBunq).WithTimeout(settleTimeout).Should(Equal(map[int64]string{newest: c.fingerprint}))
		Eventually(func() []bunqv1alpha1.UnsettledPin { return get(obj).Status.Unsettled }).WithTimeout(settleTimeout).Should(BeEmpty())
		Expect(w.emu.Count("POST", bunqtest.EndpointPins)).To(BeZero())
	})

	It("removes the leftover of a pending chain that is no longer wanted", func() {
		old := w.issue("hooks-tls", "hooks.example.com")
		oldID := w.emu.PinOutOfBand(w.apiKey, chainOf(old).pems...)
		abandoned := chainOf(w.pki.served("hooks.example.com"))
		leftover := w.emu.PinOutOfBand(w.apiKey, abandoned.pems...)
		current := w.issue("hooks-tls", "hooks.example.com")
		obj := w.resumeWith("hooks", func(st *bunqv1alpha1.BunqPinnedCertificateStatus) {
			st.Pending, st.PinnedCertificateID, st.Fingerprint, st.UserID = abandoned.fingerprint, oldID, chainOf(old).fingerprint, w.emu.UserID(w.apiKey)
		})
		got := waitPinned(obj, current)
		Eventually(w.pinsOnBunq).WithTimeout(settleTimeout).ShouldNot(HaveKey(leftover))
		Expect(w.pinsOnBunq()).To(HaveKey(got.Status.PinnedCertificateID))
		Expect(got.Status.Previous).To(ConsistOf(HaveField("ID", oldID)))
		w.waitEvent(obj, "Cleaned")
	})
})

var _ = Describe("Drift, deletion and suspension", func() {
	var w *world
	BeforeEach(func() { w = newWorld() })

	It("pins again when the pin disappears from bunq, found at the next resync", func() {
		crt := w.issue("hooks-tls", "hooks.example.com")
		obj := w.resource("hooks")
		oldID := waitPinned(obj, crt).Status.PinnedCertificateID
		Expect(w.emu.UnpinOutOfBand(oldID)).To(BeTrue())

		advanceClock(2 * time.Hour)
		poke(obj)
		Eventually(func() int64 { return get(obj).Status.PinnedCertificateID }).ShouldNot(Equal(oldID))
		got := waitPinned(obj, crt)
		Expect(w.pinsOnBunq()).To(Equal(map[int64]string{got.Status.PinnedCertificateID: chainOf(crt).fingerprint}))
		w.waitEvent(obj, "Drift")
	})

	It("reads pins back with one list per API key per resync, not one call per resource", func() {
		var objs []*bunqv1alpha1.BunqPinnedCertificate
		for _, name := range []string{"a", "b", "c"} {
			crt := w.issue(name+"-tls", name+".example.com")
			obj := w.resource(name)
			waitPinned(obj, crt)
			objs = append(objs, obj)
		}
		before := w.emu.Count("GET", bunqtest.EndpointPins)
		synced := get(objs[2]).Status.LastSyncTime.Time
		advanceClock(2 * time.Hour)
		for _, obj := range objs {
			poke(obj)
		}
		for _, obj := range objs {
			Eventually(func() time.Time { return get(obj).Status.LastSyncTime.Time }).Should(BeTemporally(">", synced.Add(time.Hour)))
		}
		Expect(w.emu.Count("GET", bunqtest.EndpointPins) - before).To(Equal(1))
		Expect(w.writes()).To(Equal(3), "no pin beyond the three first ones")
	})

	It("unpins every chain on deletion with deletionPolicy Delete", func() {
		first := w.issue("hooks-tls", "hooks.example.com")
		obj := w.resource("hooks")
		waitPinned(obj, first)
		waitPinned(obj, w.issue("hooks-tls", "hooks.example.com"))
		Expect(w.pinsOnBunq()).To(HaveLen(2))
		Expect(k8sClient.Delete(ctx, obj)).To(Succeed())
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj) }).
			Should(MatchError(ContainSubstring("not found")))
		Expect(w.pinsOnBunq()).To(BeEmpty())
	})

	It("leaves the pin on deletion with deletionPolicy Retain", func() {
		crt := w.issue("hooks-tls", "hooks.example.com")
		obj := w.resource("hooks", func(s *bunqv1alpha1.BunqPinnedCertificateSpec) {
			s.DeletionPolicy = bunqv1alpha1.DeletionPolicyRetain
		})
		id := waitPinned(obj, crt).Status.PinnedCertificateID
		Expect(k8sClient.Delete(ctx, obj)).To(Succeed())
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj) }).
			Should(MatchError(ContainSubstring("not found")))
		Expect(w.pinsOnBunq()).To(HaveKey(id))
	})

	// A namespace deletion removes the API key Secret too, often first.
	deleteKey := func(obj *bunqv1alpha1.BunqPinnedCertificate) {
		w.deleteSecret("bunq-api-key")
		waitReason(obj, bunqv1alpha1.ReasonAPIKeyNotFound)
	}
	deleteResource := func(obj *bunqv1alpha1.BunqPinnedCertificate) {
		Expect(k8sClient.Delete(ctx, obj)).To(Succeed())
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj) }).
			WithTimeout(settleTimeout).Should(MatchError(ContainSubstring("not found")))
	}
	deleteKeyThenResource := func(obj *bunqv1alpha1.BunqPinnedCertificate) {
		deleteKey(obj)
		deleteResource(obj)
	}
	// restarted makes the reconciler forget, as a new process would, which
	// context the resource used: only the context Secret still says so. Once
	// the key is gone, no pass can bring the memory back.
	restarted := func(obj *bunqv1alpha1.BunqPinnedCertificate) {
		a := testReconciler.accounts
		a.mu.Lock()
		a.releaseLocked(get(obj).UID)
		a.mu.Unlock()
	}

	It("unpins through the stored session when the API key Secret is deleted first", func() {
		crt := w.issue("hooks-tls", "hooks.example.com")
		obj := w.resource("hooks")
		waitPinned(obj, crt)
		deleteKeyThenResource(obj)
		Expect(w.pinsOnBunq()).To(BeEmpty())
	})

	It("finds the context through the resources it records, after a restart", func() {
		crt := w.issue("hooks-tls", "hooks.example.com")
		obj := w.resource("hooks")
		waitPinned(obj, crt)
		deleteKey(obj)
		restarted(obj)
		sessions := w.emu.Count(http.MethodPost, bunqtest.EndpointSession)
		deleteResource(obj)
		Expect(w.pinsOnBunq()).To(BeEmpty())
		Expect(w.emu.Count(http.MethodPost, bunqtest.EndpointSession)).To(Equal(sessions), "the stored session did it, with no key")
	})

	It("lets go, naming the pins, when the key and the session are both gone", func() {
		crt := w.issue("hooks-tls", "hooks.example.com")
		obj := w.resource("hooks")
		id := waitPinned(obj, crt).Status.PinnedCertificateID
		deleteKey(obj)
		restarted(obj)
		w.emu.ExpireSessions()
		deleteResource(obj)
		Expect(w.pinsOnBunq()).To(HaveKey(id), "without a key or a session nothing could be unpinned")
	})

	It("never unpins through a context whose user is not the resource's", func() {
		crt := w.issue("hooks-tls", "hooks.example.com")
		obj := w.resource("hooks")
		id := waitPinned(obj, crt).Status.PinnedCertificateID
		deleteKey(obj) // without the key no sync can put the user right again
		restarted(obj)
		cur := get(obj)
		cur.Status.UserID++ // as a status that names another user would
		Expect(k8sClient.Status().Update(ctx, cur)).To(Succeed())
		deleteResource(obj)
		Expect(w.pinsOnBunq()).To(HaveKey(id))
	})

	It("stops every bunq call while suspended", func() {
		crt := w.issue("hooks-tls", "hooks.example.com")
		obj := w.resource("hooks")
		waitPinned(obj, crt)
		cur := get(obj)
		patch := client.MergeFrom(cur.DeepCopy())
		cur.Spec.Suspend = true
		Expect(k8sClient.Patch(ctx, cur, patch)).To(Succeed())
		waitReason(obj, bunqv1alpha1.ReasonSuspended)
		before := w.calls()
		w.issue("hooks-tls", "hooks.example.com")
		Consistently(w.calls).WithTimeout(time.Second).Should(Equal(before))
		Expect(ready(get(obj)).Message).To(ContainSubstring("suspend"))
	})
})

var _ = Describe("Shared API contexts", func() {
	It("uses one installation and one session for resources sharing a key, kept across clients", func() {
		w := newWorld()
		a := w.issue("a-tls", "a.example.com")
		b := w.issue("b-tls", "b.example.com")
		objA, objB := w.resource("a"), w.resource("b")
		waitPinned(objA, a)
		waitPinned(objB, b)
		Expect(w.emu.Count("POST", bunqtest.EndpointInstallation)).To(Equal(1))
		Expect(w.emu.Count("POST", bunqtest.EndpointSession)).To(Equal(1))

		ctxSecret := &corev1.Secret{}
		name := contextSecretName(bunqv1alpha1.EnvironmentSandbox, w.apiKey)
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: contextNamespace, Name: name}, ctxSecret)).To(Succeed())
		Expect(string(ctxSecret.Data[contextKeyData])).NotTo(ContainSubstring(w.apiKey), "the API key is not stored")

		// A restarted manager builds a new client from the stored context: no new installation.
		store := &secretStore{reader: k8sClient, writer: k8sClient, key: client.ObjectKey{Namespace: contextNamespace, Name: name}}
		restarted, err := testClientFactory(bunqv1alpha1.EnvironmentSandbox, w.apiKey, store)
		Expect(err).NotTo(HaveOccurred())
		_, err = restarted.ListPins(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(w.emu.Count("POST", bunqtest.EndpointInstallation)).To(Equal(1))
		Expect(w.emu.Count("POST", bunqtest.EndpointSession)).To(Equal(1))
	})
})
