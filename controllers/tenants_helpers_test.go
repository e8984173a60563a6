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
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq"
	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
)

// sibling is another namespace on the same bunq user: same API key, emulator
// and certificate authority, as a second team of one company would have.
func (w *world) sibling() *world {
	s := &world{ns: newNamespace(), apiKey: w.apiKey, emu: w.emu, url: w.url, pki: w.pki}
	s.secret("bunq-api-key", map[string][]byte{"api-key": []byte(w.apiKey)}, corev1.SecretTypeOpaque)
	DeferCleanup(s.assertNoKeyMaterialSent)
	return s
}

// copyTLS writes the same certificate and key into another world's Secret, as
// a wildcard certificate copied into two namespaces.
func (w *world) copyTLS(name string, to *world) {
	s := &corev1.Secret{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: w.ns, Name: name}, s)).To(Succeed())
	to.writeTLS(name, string(s.Data["tls.crt"]), string(s.Data["tls.key"]))
}

// newKey adds another API key, of a new bunq user, to the world's emulator.
func (w *world) newKey() string {
	key := randomAPIKey()
	w.emu.AddAPIKey(key, bunqtest.UserOptions{})
	route(key, w.url)
	return key
}

// watcher reads the resources' statuses and bunq's pins again and again, and
// records every read in which a status refers to a pin that bunq lacks: the
// current id always, a previous id until its retireAfter.
type watcher struct {
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	problems []string
	reads    int
}

func (w *world) watch(objs ...*bunqv1alpha1.BunqPinnedCertificate) *watcher {
	wt := &watcher{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer GinkgoRecover()
		defer close(wt.done)
		for {
			select {
			case <-wt.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			before := w.pinsOnBunq()
			for _, obj := range objs {
				cur := &bunqv1alpha1.BunqPinnedCertificate{}
				if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), cur); err != nil {
					continue // gone, or not yet there
				}
				after := w.pinsOnBunq()
				wt.check(cur, before, after)
			}
		}
	}()
	return wt
}

// check flags ids the status refers to that bunq held neither just before nor
// just after the status was read.
func (wt *watcher) check(obj *bunqv1alpha1.BunqPinnedCertificate, before, after map[int64]string) {
	wt.mu.Lock()
	defer wt.mu.Unlock()
	wt.reads++
	held := func(id int64) bool { _, b := before[id]; _, a := after[id]; return a || b }
	st := obj.Status
	if id := st.PinnedCertificateID; id != 0 && !held(id) {
		wt.problems = append(wt.problems, fmt.Sprintf("%s/%s: status id %d is not on bunq", obj.Namespace, obj.Name, id))
	}
	for _, prev := range st.Previous {
		if testNow().Before(prev.RetireAfter.Time) && !held(prev.ID) {
			wt.problems = append(wt.problems, fmt.Sprintf("%s/%s: previous id %d (until %s) is not on bunq",
				obj.Namespace, obj.Name, prev.ID, prev.RetireAfter))
		}
	}
}

// finish stops the watcher and fails on any problem it saw.
func (wt *watcher) finish() {
	close(wt.stop)
	<-wt.done
	wt.mu.Lock()
	defer wt.mu.Unlock()
	ExpectWithOffset(1, wt.reads).To(BeNumerically(">", 0), "the watcher never read a status")
	ExpectWithOffset(1, wt.problems).To(BeEmpty())
}

// limited routes API keys through one limiter with bunq's limits scaled by
// factor, as keys behind one egress IP share bunq's per-IP windows.
func limited(factor float64, keys ...string) {
	l := bunq.NewLimiter(bunq.DefaultLimits().Scaled(factor), false)
	for _, k := range keys {
		bunqLimiters.Store(k, l)
		DeferCleanup(func() { bunqLimiters.Delete(k) })
	}
}

// suspend sets spec.suspend, so the resource stops calling bunq.
func suspend(obj *bunqv1alpha1.BunqPinnedCertificate) {
	cur := get(obj)
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Spec.Suspend = true
	Expect(k8sClient.Patch(ctx, cur, patch)).To(Succeed())
}

// resumeWith makes a resource whose status was left as set says (by a
// crashed manager, an older version, another leader) and lets it run.
func (w *world) resumeWith(name string, set func(*bunqv1alpha1.BunqPinnedCertificateStatus)) *bunqv1alpha1.BunqPinnedCertificate {
	obj := w.resource(name, func(s *bunqv1alpha1.BunqPinnedCertificateSpec) { s.Suspend = true })
	waitReason(obj, bunqv1alpha1.ReasonSuspended)
	cur := get(obj)
	set(&cur.Status)
	Expect(k8sClient.Status().Update(ctx, cur)).To(Succeed())
	cur = get(obj)
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Spec.Suspend = false
	Expect(k8sClient.Patch(ctx, cur, patch)).To(Succeed())
	return obj
}
