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
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
)

// finalize unpins the resource's chains (deletionPolicy Delete) and lets it go.
// It never blocks forever: without an API key nothing can be unpinned, and the
// pins are left with a warning naming them.
func (p *pass) finalize(ctx context.Context) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(p.obj, Finalizer) {
		return ctrl.Result{}, nil
	}
	ids := p.ownedIDs()
	switch {
	case len(ids) == 0:
	case p.obj.Spec.DeletionPolicy == bunqv1alpha1.DeletionPolicyRetain:
		p.event(corev1.EventTypeNormal, "Retained", fmt.Sprintf("deletionPolicy is Retain: pins %v stay on bunq", ids))
	case p.obj.Spec.Suspend:
		p.event(corev1.EventTypeNormal, "Retained", fmt.Sprintf("suspended: pins %v stay on bunq", ids))
	default:
		if err := p.ensureFresh(ctx); err != nil {
			return p.fail(err)
		}
		if err := p.unpinAll(ctx, ids); err != nil {
			var me *missingError
			if !errors.As(err, &me) {
				return p.fail(err)
			}
			p.report(metav1.ConditionFalse, me.reason, me.msg+fmt.Sprintf("; cannot unpin %v, they stay on bunq", ids))
		}
	}
	if err := p.writeStatus(ctx); err != nil {
		return ctrl.Result{}, err
	}
	base := p.obj.DeepCopy()
	controllerutil.RemoveFinalizer(p.obj, Finalizer)
	if err := p.r.Patch(ctx, p.obj, client.MergeFrom(base)); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	p.gone = true
	certificateNotAfter.DeleteLabelValues(p.obj.Namespace, p.obj.Name)
	return ctrl.Result{}, nil
}

// ownedIDs are the pins this resource answers for.
func (p *pass) ownedIDs() []int64 {
	var ids []int64
	if id := p.obj.Status.PinnedCertificateID; id != 0 {
		ids = append(ids, id)
	}
	for _, prev := range p.obj.Status.Previous {
		ids = append(ids, prev.ID)
	}
	return ids
}

func (p *pass) unpinAll(ctx context.Context, ids []int64) error {
	acc, err := p.account(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := acc.unpin(ctx, id); err != nil {
			return err
		}
	}
	p.event(corev1.EventTypeNormal, "Unpinned", fmt.Sprintf("pins %v removed from bunq", ids))
	return nil
}
