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
	"fmt"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
)

// Resources that meet on one bunq account (design.md Behaviour 3): a bunq
// user's pins are one reference-counted set.
var _ = Describe("Shared pins", func() {
	var w, other *world
	retainNone := func(s *bunqv1alpha1.BunqPinnedCertificateSpec) { s.RetainPreviousFor = &metav1.Duration{} }
	BeforeEach(func() {
		w = newWorld()
		other = w.sibling()
	})

	// shared makes one resource in each namespace on the same chain, created at
	// once, plus a second resource on the first one's Secret.
	shared := func(mutate func(*bunqv1alpha1.BunqPinnedCertificateSpec)) (a, b, c *bunqv1alpha1.BunqPinnedCertificate, crt string) {
		crt = w.issue("hooks-tls", "*.example.com")
		w.copyTLS("hooks-tls", other)
		a, b = w.resource("hooks", mutate), other.resource("hooks", mutate)
		c = w.resource("hooks-again", func(s *bunqv1alpha1.BunqPinnedCertificateSpec) {
			s.SecretName = "hooks-tls"
			if mutate != nil {
				mutate(s)
			}
		})
		return a, b, c, crt
	}

	It("pins a chain wanted in two namespaces and by two resources on one Secret once", func() {
		a, b, c, crt := shared(nil)
		ids := map[int64]bool{}
		for _, obj := range []*bunqv1alpha1.BunqPinnedCertificate{a, b, c} {
			ids[waitPinned(obj, crt).Status.PinnedCertificateID] = true
		}
		Expect(ids).To(HaveLen(1), "one id for one chain")
		Expect(w.pinsOnBunq()).To(HaveLen(1))
		Expect(w.emu.Count(http.MethodPost, bunqtest.EndpointPins)).To(Equal(1))
	})

	It("keeps the other namespace's pin on bunq at every moment while one is deleted", func() {
		a, b, c, crt := shared(nil)
		for _, obj := range []*bunqv1alpha1.BunqPinnedCertificate{a, b, c} {
			waitPinned(obj, crt)
		}
		wt := w.watch(b, c)
		Expect(k8sClient.Delete(ctx, a)).To(Succeed())
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKeyFromObject(a), a) }).
			Should(MatchError(ContainSubstring("not found")))
		Consistently(func() string { return ready(get(b)).Reason }).WithTimeout(500 * time.Millisecond).Should(Equal(bunqv1alpha1.ReasonPinned))
		wt.finish()
		Expect(w.pinsOnBunq()).To(HaveKey(get(b).Status.PinnedCertificateID))

		Expect(k8sClient.Delete(ctx, b)).To(Succeed())
		Expect(k8sClient.Delete(ctx, c)).To(Succeed())
		Eventually(w.pinsOnBunq).Should(BeEmpty(), "the last one to go unpins the chain")
	})

	It("keeps the old chain pinned for the other namespace when one rotates", func() {
		a, b, _, crt := shared(retainNone)
		shared := waitPinned(b, crt).Status.PinnedCertificateID
		waitPinned(a, crt)
		wt := w.watch(a, b)
		renewed := w.issue("hooks-tls", "*.example.com")
		got := waitPinned(a, renewed)
		Eventually(func() []bunqv1alpha1.PreviousPin { return get(a).Status.Previous }).Should(BeEmpty(), "a has let go of the old chain")
		wt.finish()
		Expect(w.pinsOnBunq()).To(HaveKey(shared), "b and hooks-again still use it")
		Expect(w.pinsOnBunq()).To(HaveKey(got.Status.PinnedCertificateID))
	})

	It("pins one new chain once when both namespaces renew to it", func() {
		a, b, c, crt := shared(retainNone)
		for _, obj := range []*bunqv1alpha1.BunqPinnedCertificate{a, b, c} {
			waitPinned(obj, crt)
		}
		posts := w.emu.Count(http.MethodPost, bunqtest.EndpointPins)
		wt := w.watch(a, b, c)
		renewed := w.issue("hooks-tls", "*.example.com")
		w.copyTLS("hooks-tls", other)
		ids := map[int64]bool{}
		for _, obj := range []*bunqv1alpha1.BunqPinnedCertificate{a, b, c} {
			ids[waitPinned(obj, renewed).Status.PinnedCertificateID] = true
		}
		Expect(ids).To(HaveLen(1))
		Expect(w.emu.Count(http.MethodPost, bunqtest.EndpointPins)-posts).To(Equal(1), "one POST for the shared chain")
		Eventually(w.pinsOnBunq).Should(HaveLen(1), "the old chain goes once nobody wants it")
		wt.finish()
	})

	It("reuses the id of a chain still in previous[] when rotating back to it", func() {
		first := w.issue("hooks-tls", "hooks.example.com")
		obj := w.resource("hooks")
		firstID := waitPinned(obj, first).Status.PinnedCertificateID
		secret := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: w.ns, Name: "hooks-tls"}, secret)).To(Succeed())
		w.issue("hooks-tls", "hooks.example.com")
		Eventually(func() []bunqv1alpha1.PreviousPin { return get(obj).Status.Previous }).Should(HaveLen(1))

		w.setData("hooks-tls", secret.Data) // back to the first certificate
		got := waitPinned(obj, first)
		Expect(got.Status.PinnedCertificateID).To(Equal(firstID))
		Expect(w.emu.Count(http.MethodPost, bunqtest.EndpointPins)).To(Equal(2), "no second POST of the first chain")
		Expect(got.Status.Previous).To(HaveLen(1))
		Expect(got.Status.Previous[0].ID).NotTo(Equal(firstID), "the current id is never in previous[]")
	})
})

// Requests whose outcome is unknown (design.md Behaviour 3b).
var _ = Describe("Unknown outcomes", func() {
	var w *world
	BeforeEach(func() { w = newWorld() })

	It("removes a pin that committed after its request timed out, while the Secret rotated", func() {
		first := w.issue("hooks-tls", "hooks.example.com")
		obj := w.resource("hooks", func(s *bunqv1alpha1.BunqPinnedCertificateSpec) { s.RetainPreviousFor = &metav1.Duration{} })
		waitPinned(obj, first)
		wt := w.watch(obj)
		w.emu.Inject(bunqtest.Fault{Method: http.MethodPost, Endpoint: bunqtest.EndpointPins, Delay: testClientTimeout * 3 / 2, Times: 1})
		w.issue("hooks-tls", "hooks.example.com") // its POST hangs, times out, and commits late
		Eventually(func() []bunqv1alpha1.UnsettledPin { return get(obj).Status.Unsettled }).
			WithTimeout(settleTimeout).Should(HaveLen(1), "the timed-out chain is on record")
		last := w.issue("hooks-tls", "hooks.example.com")
		got := waitPinned(obj, last)
		Eventually(w.pinsOnBunq).WithTimeout(settleTimeout).Should(Equal(map[int64]string{got.Status.PinnedCertificateID: chainOf(last).fingerprint}),
			"the late pin of the abandoned chain is removed once its window has passed")
		Eventually(func() []bunqv1alpha1.UnsettledPin { return get(obj).Status.Unsettled }).WithTimeout(settleTimeout).Should(BeEmpty())
		wt.finish()
	})

	It("settles a pin whose reply was lost before letting a deleted resource go", func() {
		crt := w.issue("hooks-tls", "hooks.example.com")
		w.emu.Inject(bunqtest.Fault{Method: http.MethodPost, Endpoint: bunqtest.EndpointPins, ResetAfter: true, Times: 1})
		obj := w.resource("hooks")
		Eventually(func() int { return len(w.emu.Pins(w.apiKey)) }).Should(Equal(1), "bunq made the pin; the reply was lost")
		Expect(k8sClient.Delete(ctx, obj)).To(Succeed())
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj) }).
			WithTimeout(settleTimeout).Should(MatchError(ContainSubstring("not found")))
		Expect(w.pinsOnBunq()).To(BeEmpty(), "the committed pin of %s is not left behind", chainOf(crt).fingerprint)
	})
})

var _ = Describe("Unknown outcomes, at the bound", func() {
	It("settles a full unsettled[] before pinning, adopting a late pin of the wanted chain", func() {
		w := newWorld()
		crt := w.issue("hooks-tls", "hooks.example.com")
		late := w.emu.PinOutOfBand(w.apiKey, chainOf(crt).pems...) // a request that committed late
		var gone []int64
		obj := w.resumeWith("hooks", func(st *bunqv1alpha1.BunqPinnedCertificateStatus) {
			due := metav1.NewTime(testNow().Add(-time.Minute).Truncate(time.Second))
			st.UserID = w.emu.UserID(w.apiKey)
			st.Unsettled = []bunqv1alpha1.UnsettledPin{{Fingerprint: chainOf(crt).fingerprint, SettleAfter: due}}
			for len(st.Unsettled) < bunqv1alpha1.MaxUnsettled {
				abandoned := chainOf(w.pki.served("hooks.example.com"))
				gone = append(gone, w.emu.PinOutOfBand(w.apiKey, abandoned.pems...))
				st.Unsettled = append(st.Unsettled, bunqv1alpha1.UnsettledPin{Fingerprint: abandoned.fingerprint, SettleAfter: due})
			}
		})

		got := waitPinned(obj, crt)
		Expect(got.Status.PinnedCertificateID).To(Equal(late), "the late pin is adopted")
		Expect(got.Status.Unsettled).To(BeEmpty())
		Expect(w.emu.Count(http.MethodPost, bunqtest.EndpointPins)).To(BeZero())
		Expect(w.pinsOnBunq()).To(Equal(map[int64]string{late: chainOf(crt).fingerprint}), "the abandoned chains' pins %v are removed", gone)
	})
})

// Tenants on other API keys (design.md Behaviour 9).
var _ = Describe("Isolation between API keys", func() {
	It("lets a healthy key renew while 20 resources sit on a revoked key, with one handshake per backoff", func() {
		w := newWorld()
		healthy := w.sibling()
		healthy.apiKey = w.newKey()
		healthy.setData("bunq-api-key", map[string][]byte{"api-key": []byte(healthy.apiKey)})
		// bunq's limits ten times faster: one session-server call per 3 s for both keys.
		limited(10, w.apiKey, healthy.apiKey)

		hcrt := healthy.issue("hooks-tls", "hooks.example.com")
		hobj := healthy.resource("hooks")
		var revoked []*bunqv1alpha1.BunqPinnedCertificate
		var crts []string
		for i := range 20 {
			name := fmt.Sprintf("r-%02d", i)
			crts = append(crts, w.issue(name+"-tls", name+".example.com"))
			revoked = append(revoked, w.resource(name))
		}
		waitPinned(hobj, hcrt)
		for i, obj := range revoked {
			waitPinned(obj, crts[i])
		}
		// Stop them before the emulator goes, or they retry into other specs.
		DeferCleanup(func() {
			for _, obj := range revoked {
				suspend(obj)
			}
		})

		w.emu.RevokeAPIKey(w.apiKey)
		w.emu.ExpireSessions()
		before := w.emu.Handshakes(w.apiKey)
		start := time.Now()
		for i := range revoked {
			w.issue(fmt.Sprintf("r-%02d-tls", i), fmt.Sprintf("r-%02d.example.com", i))
		}
		renewed := healthy.issue("hooks-tls", "hooks.example.com")
		Eventually(func() string { return get(hobj).Status.Fingerprint }).
			WithTimeout(6*time.Second).WithPolling(20*time.Millisecond).Should(Equal(chainOf(renewed).fingerprint),
			"the healthy key renews within 60 s of bunq time")
		waitReason(revoked[0], bunqv1alpha1.ReasonIPNotPermitted)
		Consistently(func() int { return w.emu.Handshakes(w.apiKey) - before }).WithTimeout(2*time.Second).
			Should(BeNumerically("<=", 1+int(time.Since(start)/DefaultRefusedKeyBackoff)), "one handshake per backoff period")
		for _, obj := range revoked {
			Eventually(func() string { return ready(get(obj)).Reason }).Should(Equal(bunqv1alpha1.ReasonIPNotPermitted))
		}
	})
})

// New keys wait for bunq's session window: one session-server call per 30 s
// per IP, shared by every key. Their passes must not hold the workers the
// keys with a session need.
var _ = Describe("Keys waiting for a session", func() {
	It("lets a key with a session renew while more new keys than workers wait for the session window", func() {
		w := newWorld()
		var tenants []*world
		keys := []string{w.apiKey}
		for range 6 { // the suite runs 4 workers
			t := w.sibling()
			t.apiKey = w.newKey()
			t.setData("bunq-api-key", map[string][]byte{"api-key": []byte(t.apiKey)})
			tenants, keys = append(tenants, t), append(keys, t.apiKey)
		}
		limited(1, keys...) // bunq's own limits: the first session now, the next in 30 s
		crt := w.issue("hooks-tls", "hooks.example.com")
		obj := w.resource("hooks")
		waitPinned(obj, crt)

		var waiting []*bunqv1alpha1.BunqPinnedCertificate
		for _, t := range tenants {
			t.issue("hooks-tls", "hooks.example.com")
			waiting = append(waiting, t.resource("hooks"))
		}
		DeferCleanup(func() {
			for _, o := range waiting {
				suspend(o)
			}
		})
		time.Sleep(500 * time.Millisecond) // their passes have started
		renewed := w.issue("hooks-tls", "hooks.example.com")
		Eventually(func() string { return get(obj).Status.Fingerprint }).WithTimeout(3*time.Second).
			Should(Equal(chainOf(renewed).fingerprint), "no worker waits for another key's session")
		for _, o := range waiting {
			Eventually(func() string {
				if c := ready(get(o)); c != nil {
					return c.Reason + ": " + c.Message
				}
				return ""
			}).Should(HavePrefix(bunqv1alpha1.ReasonPinning + ": waiting for bunq to open a session"))
		}
	})
})

// A renewal is urgent (design.md Behaviour 8): it goes before the queue of
// first pins that a cold start or a new tenant brings.
var _ = Describe("A renewal among many first pins", func() {
	It("is pinned within 2 s while 60 new resources on the same key wait for bunq's POST window", func() {
		w := newWorld()
		limited(5, w.apiKey) // bunq's limits five times faster (as make bench runs): 60 first pins take 7.2 s
		crt := w.issue("hooks-tls", "hooks.example.com")
		obj := w.resource("hooks")
		waitPinned(obj, crt)
		var news []*bunqv1alpha1.BunqPinnedCertificate
		for i := range 60 {
			name := fmt.Sprintf("new-%02d", i)
			w.issue(name+"-tls", name+".example.com")
			news = append(news, w.resource(name))
		}
		DeferCleanup(func() {
			for _, o := range news {
				suspend(o)
			}
		})
		renewed := w.issue("hooks-tls", "hooks.example.com")
		Eventually(func() string { return get(obj).Status.Fingerprint }).WithTimeout(2*time.Second).
			Should(Equal(chainOf(renewed).fingerprint), "the renewal is not queued behind the first pins")
		Expect(len(w.pinsOnBunq())).To(BeNumerically("<", 40), "most first pins are still waiting, so the renewal overtook them")
	})
})

// API key values that must never reach bunq (design.md Behaviour 10).
var _ = Describe("API key values", func() {
	var w *world
	BeforeEach(func() { w = newWorld() })

	DescribeTable("are refused before anything is sent",
		func(ref func(w *world) bunqv1alpha1.SecretKeyRef, message string) {
			w.issue("hooks-tls", "hooks.example.com")
			r := ref(w)
			obj := w.resource("hooks", func(s *bunqv1alpha1.BunqPinnedCertificateSpec) { s.APIKeySecretRef = r })
			got := waitReason(obj, bunqv1alpha1.ReasonInvalidAPIKey)
			Expect(ready(got).Message).To(ContainSubstring(message))
			w.waitEvent(obj, bunqv1alpha1.ReasonInvalidAPIKey)
			Consistently(w.calls).WithTimeout(300 * time.Millisecond).Should(BeZero())
		},
		Entry("the TLS Secret's private key", func(w *world) bunqv1alpha1.SecretKeyRef {
			return bunqv1alpha1.SecretKeyRef{Name: "hooks-tls", Key: "tls.key"}
		}, "a TLS private key"),
		Entry("a PEM block under another name", func(w *world) bunqv1alpha1.SecretKeyRef {
			_, key := w.pki.intermediate.Leaf("x.example.com", time.Now(), time.Now().Add(time.Hour))
			w.keys = append(w.keys, key)
			w.secret("pasted", map[string][]byte{"api-key": []byte(key)}, corev1.SecretTypeOpaque)
			return bunqv1alpha1.SecretKeyRef{Name: "pasted"}
		}, "PEM block"),
		Entry("white space inside", func(w *world) bunqv1alpha1.SecretKeyRef {
			w.secret("spaced", map[string][]byte{"api-key": []byte(w.apiKey[:10] + " " + w.apiKey[10:])}, corev1.SecretTypeOpaque)
			return bunqv1alpha1.SecretKeyRef{Name: "spaced"}
		}, "white space"),
		Entry("longer than 256 bytes", func(w *world) bunqv1alpha1.SecretKeyRef {
			w.secret("long", map[string][]byte{"api-key": []byte(strings.Repeat("k", 300))}, corev1.SecretTypeOpaque)
			return bunqv1alpha1.SecretKeyRef{Name: "long"}
		}, "longer than 256 bytes"),
	)

	It("trims the newline that `echo key | kubectl create secret` leaves", func() {
		crt := w.issue("hooks-tls", "hooks.example.com")
		w.setData("bunq-api-key", map[string][]byte{"api-key": []byte(" " + w.apiKey + "\n")})
		waitPinned(w.resource("hooks"), crt)
	})

	It("serves two resources that read two keys of one Secret", func() {
		second := w.newKey()
		w.secret("bunq-keys", map[string][]byte{"first": []byte(w.apiKey), "second": []byte(second)}, corev1.SecretTypeOpaque)
		a, b := w.issue("a-tls", "a.example.com"), w.issue("b-tls", "b.example.com")
		objA := w.resource("a", func(s *bunqv1alpha1.BunqPinnedCertificateSpec) {
			s.APIKeySecretRef = bunqv1alpha1.SecretKeyRef{Name: "bunq-keys", Key: "first"}
		})
		waitPinned(objA, a)
		objB := w.resource("b", func(s *bunqv1alpha1.BunqPinnedCertificateSpec) {
			s.APIKeySecretRef = bunqv1alpha1.SecretKeyRef{Name: "bunq-keys", Key: "second"}
		})
		got := waitPinned(objB, b)
		Expect(got.Status.UserID).To(Equal(w.emu.UserID(second)))
	})
})

var _ = Describe("Duplicates", func() {
	It("reduces two ids of one chain to one at the next resync", func() {
		w := newWorld()
		other := w.sibling()
		crt := w.issue("hooks-tls", "*.example.com")
		w.copyTLS("hooks-tls", other)
		a := w.resource("hooks")
		first := waitPinned(a, crt).Status.PinnedCertificateID

		// b records a second pin of the same chain, as an older version could leave it.
		dup := w.emu.PinOutOfBand(w.apiKey, chainOf(crt).pems...)
		b := other.resumeWith("hooks", func(st *bunqv1alpha1.BunqPinnedCertificateStatus) {
			now := metav1.NewTime(testNow())
			st.PinnedCertificateID, st.Fingerprint, st.UserID = dup, chainOf(crt).fingerprint, w.emu.UserID(w.apiKey)
			st.LastSyncTime = &now
		})
		waitReason(b, bunqv1alpha1.ReasonPinned)
		Expect(w.pinsOnBunq()).To(HaveLen(2))

		wt := w.watch(a, b)
		advanceClock(2 * time.Hour)
		poke(a)
		poke(b)
		Eventually(func() int64 { return get(b).Status.PinnedCertificateID }).Should(Equal(first))
		Eventually(w.pinsOnBunq).Should(Equal(map[int64]string{first: chainOf(crt).fingerprint}))
		Expect(get(a).Status.PinnedCertificateID).To(Equal(first))
		other.waitEvent(b, "Deduplicated")
		wt.finish()
	})
})
