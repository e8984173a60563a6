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
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

// finalize lets go of the resource's chains and then of the resource. With
// deletionPolicy Delete, a chain is unpinned when no other resource of the
// user wants it; pin requests whose outcome is unknown are settled first, so
// a pin that committed without being recorded is not left behind. Without an
// API key nothing can be unpinned: the pins are left with a warning naming
// them. When bunq cannot be reached or refuses the key, the finalizer retries
// with backoff; deletionPolicy: Retain on the resource lets it go at once.
func (p *pass) finalize(ctx context.Context) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(p.obj, Finalizer) {
		return ctrl.Result{}, nil
	}
	ids := p.ownedIDs()
	switch {
	case len(ids) == 0 && !p.settling():
	case p.obj.Spec.DeletionPolicy == bunqv1alpha1.DeletionPolicyRetain:
		p.event(corev1.EventTypeNormal, "Retained", fmt.Sprintf("deletionPolicy is Retain: pins %v stay on bunq", ids))
	case p.obj.Spec.Suspend:
		p.event(corev1.EventTypeNormal, "Retained", fmt.Sprintf("suspended: pins %v stay on bunq", ids))
	default:
		if err := p.ensureFresh(ctx); err != nil {
			return p.fail(err)
		}
		wait, err := p.unpinAll(ctx, ids)
		err = keyGone(err)
		var ie *reasonError
		switch {
		case errors.Is(err, errAwaitingSession):
			p.report(metav1.ConditionFalse, bunqv1alpha1.ReasonPinning, "deleting: "+err.Error())
			return ctrl.Result{}, nil // the session's opener brings the resource back
		case errors.As(err, &ie):
			p.report(metav1.ConditionFalse, ie.reason, ie.msg+fmt.Sprintf("; cannot unpin %v, they stay on bunq", ids))
		case err != nil:
			return p.fail(fmt.Errorf("%w; the resource is deleted once its pins are removed, "+
				"or at once with deletionPolicy: Retain (the pins then stay on bunq)", err))
		case wait > 0:
			p.report(metav1.ConditionFalse, bunqv1alpha1.ReasonPinning, fmt.Sprintf("deleting: waiting %s for pin requests "+
				"with an unknown outcome to settle, so that none is left on bunq", wait.Round(time.Second)))
			return ctrl.Result{RequeueAfter: wait}, nil
		}
	}
	if err := p.writeStatus(ctx); err != nil {
		return ctrl.Result{}, err
	}
	base := p.obj.DeepCopy()
	controllerutil.RemoveFinalizer(p.obj, Finalizer)
	if err := p.r.Patch(ctx, p.obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsConflict(err) {
			return p.fail(errConflict)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	p.gone = true
	p.r.forget(ctx, client.ObjectKeyFromObject(p.obj))
	return ctrl.Result{}, nil
}

// finalizerAccount is the resource's account; when its API key Secret is gone
// (a namespace being deleted removes it too), the context the operator
// recorded the resource in, whose stored session can still unpin.
func (p *pass) finalizerAccount(ctx context.Context) (*account, error) {
	acc, err := p.account(ctx)
	var ie *reasonError
	if !errors.As(err, &ie) || ie.reason != bunqv1alpha1.ReasonAPIKeyNotFound || p.obj.Status.UserID == 0 {
		return acc, err
	}
	stored, lookupErr := p.r.accounts.orphaned(ctx, p.obj.UID, p.obj.Status.UserID)
	switch {
	case lookupErr != nil:
		return nil, lookupErr
	case stored == nil:
		return nil, err
	}
	p.log.Info("the API key Secret is gone; unpinning through the stored session")
	return stored, nil
}

// keyGone turns a key-less client's need for a new session into the missing
// key it is: nothing more can be unpinned, so the finalizer lets go.
func keyGone(err error) error {
	if errors.Is(err, bunq.ErrNoAPIKey) {
		return &reasonError{reason: bunqv1alpha1.ReasonAPIKeyNotFound, msg: "the API key Secret is gone and so is the stored bunq session"}
	}
	return err
}

// settling says whether pin requests of unknown outcome are still on record.
func (p *pass) settling() bool { return p.obj.Status.Pending != "" || len(p.obj.Status.Unsettled) > 0 }

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

// unpinAll settles the unsettled chains, then releases the recorded ones; it
// returns how long to wait when some cannot be settled yet.
func (p *pass) unpinAll(ctx context.Context, ids []int64) (time.Duration, error) {
	acc, err := p.finalizerAccount(ctx)
	if err != nil {
		return 0, err
	}
	if err := p.resolveUser(ctx, acc); err != nil {
		return 0, err
	}
	p.recoverPending()
	wait, err := p.settle(ctx, acc, "")
	if err != nil || wait > 0 {
		return wait, err
	}
	st := &p.obj.Status
	if st.PinnedCertificateID != 0 {
		if _, err := p.release(ctx, acc, st.Fingerprint, st.PinnedCertificateID); err != nil {
			return 0, err
		}
	}
	for _, prev := range st.Previous {
		if _, err := p.release(ctx, acc, prev.Fingerprint, prev.ID); err != nil {
			return 0, err
		}
	}
	if len(ids) > 0 {
		p.event(corev1.EventTypeNormal, "Unpinned", fmt.Sprintf("pins %v removed from bunq, or left to the other resources that use them", ids))
	}
	return 0, nil
}
