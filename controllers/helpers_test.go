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
	"crypto/rand"
	"encoding/hex"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
)

// world is one test's namespace, API key, emulator and certificate authority.
type world struct {
	ns     string
	apiKey string
	emu    *bunqtest.Server
	url    string // the emulator's API root
	pki    *testPKI
	keys   []string // every tls.key written, to prove none reaches bunq
}

func newWorld() *world {
	w := &world{ns: newNamespace(), apiKey: randomAPIKey(), pki: newTestPKI()}
	emu, err := bunqtest.New(bunqtest.Options{DisableRateLimits: true}, w.apiKey)
	Expect(err).NotTo(HaveOccurred())
	srv := httptest.NewServer(emu)
	DeferCleanup(srv.Close)
	w.emu, w.url = emu, srv.URL+"/v1"
	route(w.apiKey, w.url)
	w.secret("bunq-api-key", map[string][]byte{"api-key": []byte(w.apiKey)}, corev1.SecretTypeOpaque)
	DeferCleanup(w.assertNoKeyMaterialSent)
	return w
}

// randomAPIKey makes a sandbox-shaped key no other test uses.
func randomAPIKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "sandbox_" + hex.EncodeToString(b[:])
}

// route sends an API key's clients, and the key-less ones of its context, to an emulator.
func route(apiKey, url string) {
	bunqURLs.Store(apiKey, url)
	bunqURLs.Store(contextSecretName(bunqv1alpha1.EnvironmentSandbox, apiKey), url)
}

func (w *world) secret(name string, data map[string][]byte, typ corev1.SecretType) {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.ns}, Data: data, Type: typ}
	Expect(k8sClient.Create(ctx, s)).To(Succeed())
}

// issue writes a renewed certificate into the TLS Secret as cert-manager does
// and returns tls.crt.
func (w *world) issue(name, dnsName string) string {
	leaf, key := w.pki.intermediate.Leaf(dnsName, time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour))
	w.writeTLS(name, leaf+w.pki.intermediate.PEM, key)
	return leaf + w.pki.intermediate.PEM
}

func (w *world) writeTLS(name, crt, key string) {
	w.keys = append(w.keys, key)
	data := map[string][]byte{"tls.crt": []byte(crt), "tls.key": []byte(key), "ca.crt": []byte(w.pki.root.PEM)}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.ns,
		Annotations: map[string]string{"cert-manager.io/certificate-name": name, "cert-manager.io/issuer-kind": "Issuer",
			"cert-manager.io/issuer-name": "ca", "cert-manager.io/common-name": "hooks.example.com"}},
		Type: corev1.SecretTypeTLS, Data: data}
	if err := k8sClient.Create(ctx, s); apierrors.IsAlreadyExists(err) {
		w.setData(name, data) // a renewal
	} else {
		Expect(err).NotTo(HaveOccurred())
	}
}

// setData replaces a Secret's data.
func (w *world) setData(name string, data map[string][]byte) {
	s := &corev1.Secret{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: w.ns, Name: name}, s)).To(Succeed())
	s.Data = data
	Expect(k8sClient.Update(ctx, s)).To(Succeed())
}

func (w *world) resource(name string, mutate ...func(*bunqv1alpha1.BunqPinnedCertificateSpec)) *bunqv1alpha1.BunqPinnedCertificate {
	obj := &bunqv1alpha1.BunqPinnedCertificate{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.ns},
		Spec: bunqv1alpha1.BunqPinnedCertificateSpec{
			SecretName:      name + "-tls",
			APIKeySecretRef: bunqv1alpha1.SecretKeyRef{Name: "bunq-api-key"},
			Environment:     bunqv1alpha1.EnvironmentSandbox,
		},
	}
	for _, m := range mutate {
		if m != nil {
			m(&obj.Spec)
		}
	}
	Expect(k8sClient.Create(ctx, obj)).To(Succeed())
	return obj
}

func get(obj *bunqv1alpha1.BunqPinnedCertificate) *bunqv1alpha1.BunqPinnedCertificate {
	out := &bunqv1alpha1.BunqPinnedCertificate{}
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), out)).To(Succeed())
	return out
}

func ready(obj *bunqv1alpha1.BunqPinnedCertificate) *metav1.Condition {
	return meta.FindStatusCondition(obj.Status.Conditions, bunqv1alpha1.ConditionReady)
}

// waitReason waits for Ready to carry reason and returns the resource then.
func waitReason(obj *bunqv1alpha1.BunqPinnedCertificate, reason string) *bunqv1alpha1.BunqPinnedCertificate {
	var got *bunqv1alpha1.BunqPinnedCertificate
	EventuallyWithOffset(1, func(g Gomega) {
		got = &bunqv1alpha1.BunqPinnedCertificate{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), got)).To(Succeed())
		c := ready(got)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(reason), "message: %s", c.Message)
	}).WithTimeout(15 * time.Second).WithPolling(20 * time.Millisecond).Should(Succeed())
	return got
}

// waitPinned waits until the resource is Ready with the chain of tls.crt pinned.
func waitPinned(obj *bunqv1alpha1.BunqPinnedCertificate, crt string) *bunqv1alpha1.BunqPinnedCertificate {
	want := chainOf(crt)
	var got *bunqv1alpha1.BunqPinnedCertificate
	EventuallyWithOffset(1, func(g Gomega) {
		got = &bunqv1alpha1.BunqPinnedCertificate{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), got)).To(Succeed())
		g.Expect(got.Status.Fingerprint).To(Equal(want.fingerprint))
		g.Expect(ready(got)).NotTo(BeNil())
		g.Expect(ready(got).Reason).To(Equal(bunqv1alpha1.ReasonPinned), "message: %s", ready(got).Message)
	}).WithTimeout(15 * time.Second).WithPolling(20 * time.Millisecond).Should(Succeed())
	return got
}

func chainOf(crt string) *chain {
	c, err := chainFromSecret(map[string][]byte{"tls.crt": []byte(crt)}, bunqv1alpha1.ChainServed, time.Now())
	Expect(err).NotTo(HaveOccurred())
	return c
}

// pinsOnBunq maps the emulator's pins of the world's user to their fingerprints.
func (w *world) pinsOnBunq() map[int64]string {
	out := map[int64]string{}
	for _, p := range w.emu.Pins(w.apiKey) {
		out[p.ID] = pinnedFingerprint(p.Chain)
	}
	return out
}

// writes counts the calls that change pins on bunq.
func (w *world) writes() int {
	return w.emu.Count("POST", bunqtest.EndpointPins) + w.emu.Count("DELETE", bunqtest.EndpointPin)
}

func (w *world) calls() int { return len(w.emu.Requests()) }

func (w *world) events(obj *bunqv1alpha1.BunqPinnedCertificate) []string {
	list := &eventsv1.EventList{}
	Expect(k8sClient.List(ctx, list, client.InNamespace(w.ns))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == obj.Name {
			out = append(out, e.Reason+": "+e.Note)
		}
	}
	return out
}

func (w *world) waitEvent(obj *bunqv1alpha1.BunqPinnedCertificate, reason string) {
	EventuallyWithOffset(1, func() []string { return w.events(obj) }).WithTimeout(10 * time.Second).
		Should(ContainElement(HavePrefix(reason + ": ")))
}

// poke makes the controller look at a resource again, as any update would.
func poke(obj *bunqv1alpha1.BunqPinnedCertificate) {
	cur := get(obj)
	patch := client.MergeFrom(cur.DeepCopy())
	if cur.Annotations == nil {
		cur.Annotations = map[string]string{}
	}
	cur.Annotations["test/poke"] = time.Now().Format(time.RFC3339Nano)
	Expect(k8sClient.Patch(ctx, cur, patch)).To(Succeed())
}

// aheadClock is the real clock moved forward by advanceClock. A stopped fake
// clock (clocktesting.FakeClock) would not do: the manager's timers, requeues
// and the emulator's windows run on real time, and the specs wait on them.
type aheadClock struct{ offset atomic.Int64 }

var _ clock.PassiveClock = (*aheadClock)(nil)

func (c *aheadClock) Now() time.Time                  { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *aheadClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

func advanceClock(d time.Duration) { testClock.offset.Add(int64(d)) }

// testNow is the reconciler's time.
func testNow() time.Time { return testClock.Now() }

// assertNoKeyMaterialSent checks every request the emulator received for any
// line of any tls.key the test wrote.
func (w *world) assertNoKeyMaterialSent() {
	for _, r := range w.emu.Requests() {
		var sent strings.Builder
		sent.Write(r.Body)
		for k, v := range r.Header {
			sent.WriteString(k + ": " + strings.Join(v, ",") + "\n")
		}
		for _, key := range w.keys {
			for _, line := range strings.Split(key, "\n") {
				if len(line) > 20 && !strings.HasPrefix(line, "-----") {
					Expect(sent.String()).NotTo(ContainSubstring(line), "tls.key reached bunq in %s %s", r.Method, r.Path)
				}
			}
		}
	}
}
