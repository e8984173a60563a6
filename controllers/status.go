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
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

// Requeue delays for problems that retrying soon will not fix.
const (
	requeueRateLimited = 10 * time.Second
	requeueCredentials = 5 * time.Minute
	// A resource that keeps meeting newer versions, as all do for seconds
	// while the cache lags after an API server restart, backs off from the
	// first delay to the last.
	requeueConflict    = 200 * time.Millisecond
	requeueConflictMax = 5 * time.Second
)

// newConflictBackoff spaces out the passes of a resource that keeps meeting
// newer versions; Forget starts it over after a clean pass.
func newConflictBackoff() workqueue.TypedRateLimiter[types.NamespacedName] {
	return workqueue.NewTypedItemExponentialFailureRateLimiter[types.NamespacedName](requeueConflict, requeueConflictMax)
}

// errConflict says the cached resource was stale when its status was written.
var errConflict = errors.New("resource changed while it was reconciled")

// outcome merges the error a pass returned with that of its status write. A
// conflict on either asks for another pass and is no failure; any other error
// is kept, so that it is logged and backed off, also beside a conflict.
func outcome(passErr, writeErr error) (conflict bool, err error) {
	var errs []error
	for _, e := range []error{passErr, writeErr} {
		switch {
		case errors.Is(e, errConflict):
			conflict = true
		case e != nil:
			errs = append(errs, e)
		}
	}
	return conflict, errors.Join(errs...)
}

// pass is one reconcile of one resource: the object as read, the object being
// changed, and what the pass has decided.
type pass struct {
	r         *BunqPinnedCertificateReconciler
	obj       *bunqv1alpha1.BunqPinnedCertificate
	orig      *bunqv1alpha1.BunqPinnedCertificate
	log       logr.Logger
	now       time.Time
	user      userKey // the bunq user of the API key, once resolved
	gone      bool    // the object was released for deletion; nothing to write
	conflict  bool    // the pass met a newer version of the resource
	announced bool    // a pin event was emitted; Ready=True needs no event of its own
}

// report sets Ready through one door: it stamps observedGeneration, keeps
// lastTransitionTime when the status does not flip, and emits an event and a
// log line when the condition changes.
func (p *pass) report(status metav1.ConditionStatus, reason, message string) {
	message = truncate(message, maxConditionMessage)
	cond := metav1.Condition{Type: bunqv1alpha1.ConditionReady, Status: status, Reason: reason,
		Message: message, ObservedGeneration: p.obj.Generation}
	p.obj.Status.ObservedGeneration = p.obj.Generation
	old := meta.FindStatusCondition(p.obj.Status.Conditions, bunqv1alpha1.ConditionReady)
	changed := old == nil || old.Status != status || old.Reason != reason || old.Message != message
	meta.SetStatusCondition(&p.obj.Status.Conditions, cond)
	up := 0.0
	if status == metav1.ConditionTrue {
		up = 1
	}
	readyGauge.WithLabelValues(p.obj.Namespace, p.obj.Name).Set(up)
	if !changed {
		return
	}
	p.log.Info("ready condition changed", "status", status, "reason", reason, "message", message)
	// A pin in progress needs no event of its own (its outcome gets one), nor
	// does Ready=True after a pin event.
	if reason == bunqv1alpha1.ReasonPinning || status == metav1.ConditionTrue && p.announced {
		return
	}
	eventType := corev1.EventTypeNormal
	if status == metav1.ConditionFalse && !progressing(reason) {
		eventType = corev1.EventTypeWarning
	}
	p.event(eventType, reason, message)
}

func progressing(reason string) bool {
	return reason == bunqv1alpha1.ReasonPinning || reason == bunqv1alpha1.ReasonTemporaryCertificate ||
		reason == bunqv1alpha1.ReasonSuspended
}

func (p *pass) event(eventType, reason, message string) {
	if p.r.Recorder != nil {
		p.r.Recorder.Eventf(p.obj, nil, eventType, reason, "Reconcile", "%s", truncate(message, maxEventNote))
	}
}

// What the API server accepts: a longer message would fail the whole status
// write (and leave Ready stale) or the event.
const (
	maxConditionMessage = 32768
	maxEventNote        = 1024
)

// truncate cuts s to at most max bytes, on a rune boundary, saying so.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const more = " … (truncated)"
	return strings.ToValidUTF8(s[:max-len(more)], "") + more
}

// writeStatus saves the status when this pass changed it. The write is
// conditional on the resourceVersion read: a pass that started from a stale
// cache must not undo what a newer one recorded.
func (p *pass) writeStatus(ctx context.Context) error {
	if p.conflict {
		return errConflict // the copy is known to be stale: the patch would fail
	}
	if p.gone || equality.Semantic.DeepEqual(p.orig.Status, p.obj.Status) {
		return nil
	}
	patch := client.MergeFromWithOptions(p.orig, client.MergeFromWithOptimisticLock{})
	if err := p.r.Status().Patch(ctx, p.obj, patch); err != nil {
		if apierrors.IsConflict(err) {
			return errConflict
		}
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("write status: %w", err)
	}
	p.orig = p.obj.DeepCopy()
	p.r.pins.track(p.obj)
	return nil
}

// fail records why a pass stopped and says how to go on.
func (p *pass) fail(err error) (ctrl.Result, error) {
	if errors.Is(err, errConflict) {
		p.conflict = true // a newer version exists; its pass reports. Reconcile sets the delay
		return ctrl.Result{}, nil
	}
	reason, message := classify(err)
	p.report(metav1.ConditionFalse, reason, message)
	if !progressing(reason) {
		syncErrors.WithLabelValues(reason).Inc() // every failed sync, so a steady failure keeps counting
	}
	var ce *chainError
	switch {
	case errors.As(err, &ce):
		if !ce.retryAt.IsZero() {
			return ctrl.Result{RequeueAfter: ce.retryAt.Sub(p.now)}, nil
		}
		if ce.reason == bunqv1alpha1.ReasonTemporaryCertificate {
			return ctrl.Result{}, nil // cert-manager writes the real one soon; the watch sees it
		}
		return ctrl.Result{}, reconcile.TerminalError(err)
	case reason == bunqv1alpha1.ReasonSecretNotFound || reason == bunqv1alpha1.ReasonAPIKeyNotFound:
		return ctrl.Result{}, nil // the Secret watch brings the resource back when it appears
	case reason == bunqv1alpha1.ReasonRateLimited:
		return ctrl.Result{RequeueAfter: requeueRateLimited}, nil
	case !retryAt(err).IsZero():
		return ctrl.Result{RequeueAfter: max(retryAt(err).Sub(p.r.now()), time.Second)}, nil
	case reason == bunqv1alpha1.ReasonUnauthorized || reason == bunqv1alpha1.ReasonIPNotPermitted:
		return ctrl.Result{RequeueAfter: requeueCredentials}, nil
	case reason == bunqv1alpha1.ReasonInvalidAPIKey:
		return ctrl.Result{}, nil // the Secret watch brings the resource back when the key changes
	}
	return ctrl.Result{}, err
}

// inputError is a referenced Secret or key that is missing or unusable.
type inputError struct {
	reason string
	msg    string
}

func (e *inputError) Error() string { return e.msg }

// classify maps an error to a Ready reason and a message a person can act on.
func classify(err error) (reason, message string) {
	var ce *chainError
	var ie *inputError
	switch {
	case errors.As(err, &ce):
		return ce.reason, ce.msg
	case errors.As(err, &ie):
		return ie.reason, ie.msg
	case bunq.IsIPNotPermitted(err):
		return bunqv1alpha1.ReasonIPNotPermitted, err.Error() + ". bunq gives this answer for a key it does not know " +
			"and for a key used from an IP it is not bound to: check that the API key is right and is for this " +
			"environment (a sandbox key on Production or the other way round), add the operator's egress IP to " +
			"the key (--permitted-ips), or use a wildcard key (--permitted-ips='*')"
	case bunq.IsUnauthorized(err):
		return bunqv1alpha1.ReasonUnauthorized, err.Error() + ". bunq rejected the session twice; check that the API key is active"
	case bunq.IsRateLimited(err):
		return bunqv1alpha1.ReasonRateLimited, err.Error() + "; retrying, the current pin stays in place"
	case bunq.IsSignatureInvalid(err):
		return bunqv1alpha1.ReasonSignatureInvalid, err.Error() + "; if this persists, something between the operator and bunq alters traffic"
	case bunq.IsUnavailable(err), errors.Is(err, context.DeadlineExceeded):
		return bunqv1alpha1.ReasonBunqUnavailable, err.Error() + "; retrying, the current pin stays in place"
	}
	return bunqv1alpha1.ReasonBunqError, err.Error()
}
