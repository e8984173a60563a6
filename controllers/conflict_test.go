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
	"errors"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
)

// TestConflictKeepsTheRealError: a status write that met a newer version
// asks for another pass, but an error the pass met itself (bunq's 503, say)
// is not dropped with it.
func TestConflictKeepsTheRealError(t *testing.T) {
	unavailable := errors.New("bunq: 503 Service Unavailable")
	cases := []struct {
		name         string
		pass, write  error
		wantConflict bool
		want         error
	}{
		{"clean", nil, nil, false, nil},
		{"status conflict alone", nil, errConflict, true, nil},
		{"pass met a newer version", fmt.Errorf("sync: %w", errConflict), nil, true, nil},
		{"bunq error and status conflict", unavailable, errConflict, true, unavailable},
		{"bunq error alone", unavailable, nil, false, unavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conflict, err := outcome(tc.pass, tc.write)
			if conflict != tc.wantConflict {
				t.Errorf("conflict = %v, want %v", conflict, tc.wantConflict)
			}
			if (tc.want == nil) != (err == nil) || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if errors.Is(err, errConflict) {
				t.Errorf("err %v still carries the conflict, which is not a failure", err)
			}
		})
	}
}

// TestConflictWritesNoStatus: a pass that knows its copy is stale says
// nothing about the resource; the next pass, on the newer version, does.
func TestConflictWritesNoStatus(t *testing.T) {
	obj := &bunqv1alpha1.BunqPinnedCertificate{}
	meta.SetStatusCondition(&obj.Status.Conditions, metav1.Condition{Type: bunqv1alpha1.ConditionReady,
		Status: metav1.ConditionTrue, Reason: bunqv1alpha1.ReasonPinned, Message: "pinned"})
	p := &pass{r: &BunqPinnedCertificateReconciler{}, obj: obj, orig: obj.DeepCopy()}
	res, err := p.fail(errConflict)
	if err != nil || !res.IsZero() {
		t.Errorf("fail(conflict) = %v, %v; want no error and no requeue of its own", res, err)
	}
	if !p.conflict {
		t.Error("the pass does not know it met a newer version")
	}
	if c := meta.FindStatusCondition(obj.Status.Conditions, bunqv1alpha1.ConditionReady); c.Status != metav1.ConditionTrue {
		t.Errorf("Ready became %s/%s on a copy known to be stale", c.Status, c.Reason)
	}
	if err := p.writeStatus(t.Context()); !errors.Is(err, errConflict) && err != nil {
		t.Errorf("writeStatus on a stale copy = %v", err)
	}
}
