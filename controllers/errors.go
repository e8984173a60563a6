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
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

// This file is the error policy: what each failure means for Ready, the
// event, the metric and the next pass.

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
// newer versions; Forget starts it over after a clean pass. It is kept here,
// beside the workqueue's own limiter, because a conflict is no error (the
// workqueue's backoff would count and log it as one) and controller-runtime
// deprecates Result.Requeue, the other way to reach that limiter.
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

// reasonError is a problem the operator can name: a missing or unusable
// Secret or key, a certificate it will not pin. reason is the Ready reason it
// leads to.
type reasonError struct {
	reason string
	msg    string
	// retryAt, when set, is when the problem may go away on its own.
	retryAt time.Time
}

func (e *reasonError) Error() string { return e.msg }

// verdict is what a failed pass means, decided in one place.
type verdict struct {
	reason, message string
	// warning: a Warning event and a failed sync in the metric. A reason that
	// is progress (a pin under way, a temporary certificate) is neither.
	warning bool
	// requeueAfter is when to try again; zero, with neither retry nor
	// terminal, means when a watched object changes.
	requeueAfter time.Duration
	retry        bool // hand the error to the workqueue, whose backoff spaces the retries
	terminal     bool // retrying cannot help until the resource or its Secret changes
}

// classify decides what a failure means; now is when the pass stops.
func classify(err error, now time.Time) verdict {
	reason, message := describe(err)
	v := verdict{reason: reason, message: message, warning: !progressing(reason)}
	var re *reasonError
	named := errors.As(err, &re)
	switch {
	case errors.Is(err, errAwaitingSession):
		// the session's opener brings the resource back
	case named && !re.retryAt.IsZero():
		v.requeueAfter = re.retryAt.Sub(now) // a leaf not valid yet
	case reason == bunqv1alpha1.ReasonTemporaryCertificate:
		// cert-manager writes the real one soon; the watch sees it
	case reason == bunqv1alpha1.ReasonInvalidCertificate || reason == bunqv1alpha1.ReasonCertificateExpired:
		v.terminal = true
	case reason == bunqv1alpha1.ReasonSecretNotFound || reason == bunqv1alpha1.ReasonAPIKeyNotFound ||
		reason == bunqv1alpha1.ReasonInvalidAPIKey:
		// the Secret watch brings the resource back when it appears or changes
	case reason == bunqv1alpha1.ReasonRateLimited:
		v.requeueAfter = requeueRateLimited
	case !retryAt(err).IsZero():
		v.requeueAfter = max(retryAt(err).Sub(now), time.Second) // a refused key's backoff
	case reason == bunqv1alpha1.ReasonUnauthorized || reason == bunqv1alpha1.ReasonIPNotPermitted:
		v.requeueAfter = requeueCredentials
	default:
		v.retry = true
	}
	return v
}

// fail turns a failure into the status, the event, the metric and the result.
func (p *pass) fail(err error) (ctrl.Result, error) {
	if errors.Is(err, errConflict) {
		p.conflict = true // a newer version exists; its pass reports. Reconcile sets the delay
		return ctrl.Result{}, nil
	}
	if errors.Is(err, context.Canceled) {
		return ctrl.Result{}, err // the manager is stopping: bunq said nothing, so nothing is reported
	}
	if errors.Is(err, errAwaitingSession) && meta.IsStatusConditionTrue(p.obj.Status.Conditions, bunqv1alpha1.ConditionReady) {
		return ctrl.Result{}, nil // its pins stay as they are; the status keeps saying so
	}
	v := classify(err, p.r.now())
	p.report(metav1.ConditionFalse, v.reason, v.message)
	if v.warning {
		syncErrors.WithLabelValues(v.reason).Inc() // every failed sync, so a steady failure keeps counting
	}
	switch {
	case v.terminal:
		return ctrl.Result{}, reconcile.TerminalError(err)
	case v.retry:
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: v.requeueAfter}, nil
}

// describe maps an error to a Ready reason and a message a person can act on.
func describe(err error) (reason, message string) {
	var re *reasonError
	switch {
	case errors.As(err, &re):
		return re.reason, re.msg
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
