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

package main

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

// The floor of a rotation's status latency: the four calls a rotation makes
// one after another (the live Secret read, the pending write, the pin on
// bunq, the status patch), made by an idle client on the same machine in the
// same run. Absolute times drift on a shared machine; the ratio does not.

const floorKey = "sandbox_bench_floor_00000000000000000000000000000000000000000"

type floor struct {
	b      *bench
	bunq   *bunq.Client
	obj    *bunqv1alpha1.BunqPinnedCertificate
	secret client.ObjectKey
	pem    []string
}

// newFloor makes a suspended resource to write the status of (the operator
// leaves it alone) and a bunq client with no rate limit of its own. The
// resource carries the status of like, the resource whose rotations it is the
// floor of, but for the conditions (the operator keeps Ready=Suspended there):
// the API server's work on a status write grows with the object, and the
// floor's writes are to cost what the operator's do.
func (b *bench) newFloor(like string) (*floor, error) {
	crt, err := b.writeTLS("floor", true)
	if err != nil {
		return nil, err
	}
	obj := &bunqv1alpha1.BunqPinnedCertificate{ObjectMeta: metav1.ObjectMeta{Name: "floor", Namespace: ns},
		Spec: bunqv1alpha1.BunqPinnedCertificateSpec{SecretName: "floor-tls", Environment: bunqv1alpha1.EnvironmentSandbox,
			APIKeySecretRef: bunqv1alpha1.SecretKeyRef{Name: "rotation-key"}, Suspend: true}}
	if err := b.c.Create(b.ctx, obj); err != nil {
		return nil, err
	}
	c, err := bunq.New(bunq.Options{BaseURL: b.s.BunqURL + "/v1", APIKey: floorKey, Limiter: bunq.NewLimiter(bunq.Limits{}, false)})
	if err != nil {
		return nil, err
	}
	f := &floor{b: b, bunq: c, obj: obj, secret: client.ObjectKey{Namespace: ns, Name: "floor-tls"}, pem: []string{crt}}
	model := &bunqv1alpha1.BunqPinnedCertificate{}
	if err := b.c.Get(b.ctx, client.ObjectKey{Namespace: ns, Name: like}, model); err != nil {
		return nil, err
	}
	if err := f.patchStatus(func(st *bunqv1alpha1.BunqPinnedCertificateStatus) {
		*st = *model.Status.DeepCopy()
		st.Conditions = nil // a merge patch leaves the operator's as they are
	}); err != nil {
		return nil, err
	}
	time.Sleep(b.sessionWindow())              // bunq allows one session per window per IP; the operator just opened one
	if _, err := c.UserID(b.ctx); err != nil { // the session is open before the first measure
		return nil, err
	}
	return f, nil
}

// measure makes the four calls once and returns how long they took.
func (f *floor) measure(i int) (time.Duration, error) {
	start := time.Now()
	if err := f.b.c.Get(f.b.ctx, f.secret, &corev1.Secret{}); err != nil {
		return 0, err
	}
	if err := f.patchStatus(func(st *bunqv1alpha1.BunqPinnedCertificateStatus) { st.Pending = fmt.Sprintf("sha256:%064d", i) }); err != nil {
		return 0, err
	}
	id, err := f.bunq.CreatePin(f.b.ctx, f.pem)
	if err != nil {
		return 0, err
	}
	if err := f.patchStatus(func(st *bunqv1alpha1.BunqPinnedCertificateStatus) { st.Pending, st.PinnedCertificateID = "", id }); err != nil {
		return 0, err
	}
	took := time.Since(start)
	return took, f.bunq.DeletePin(f.b.ctx, id)
}

func (f *floor) patchStatus(change func(*bunqv1alpha1.BunqPinnedCertificateStatus)) error {
	base := f.obj.DeepCopy()
	change(&f.obj.Status)
	// Not conditional: the operator writes this status too (Ready=Suspended).
	return f.b.c.Status().Patch(f.b.ctx, f.obj, client.MergeFrom(base))
}
