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
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
)

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

// reportServed sets Served: a change is logged, and an event goes with every
// change to False (an endpoint serves an unpinned leaf) and back to True.
func (p *pass) reportServed(status metav1.ConditionStatus, reason, message string) {
	message = truncate(message, maxConditionMessage)
	old := meta.FindStatusCondition(p.obj.Status.Conditions, bunqv1alpha1.ConditionServed)
	changed := old == nil || old.Status != status || old.Reason != reason || old.Message != message
	meta.SetStatusCondition(&p.obj.Status.Conditions, metav1.Condition{Type: bunqv1alpha1.ConditionServed, Status: status,
		Reason: reason, Message: message, ObservedGeneration: p.obj.Generation})
	if !changed {
		return
	}
	p.log.Info("served condition changed", "status", status, "reason", reason, "message", message)
	switch {
	case status == metav1.ConditionFalse:
		p.event(corev1.EventTypeWarning, reason, message)
	case status == metav1.ConditionTrue && old != nil && old.Status == metav1.ConditionFalse:
		p.event(corev1.EventTypeNormal, reason, message)
	}
}

func progressing(reason string) bool {
	return reason == bunqv1alpha1.ReasonPinning || reason == bunqv1alpha1.ReasonTemporaryCertificate ||
		reason == bunqv1alpha1.ReasonSuspended
}

// event queues an event; emitEvents sends the pass's events once its status
// is written. Sent at once, an event's write would compete with the status
// write a renewal waits for, and could tell of a pin the status does not
// show yet.
func (p *pass) event(eventType, reason, message string) {
	p.events = append(p.events, queuedEvent{eventType, reason, truncate(message, maxEventNote)})
}

type queuedEvent struct{ eventType, reason, note string }

func (p *pass) emitEvents() {
	if p.r.Recorder == nil {
		return
	}
	for _, e := range p.events {
		p.r.Recorder.Eventf(p.obj, nil, e.eventType, e.reason, "Reconcile", "%s", e.note)
	}
	p.events = nil
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

// pinned is what a pass did to give the current chain an id: how (Pinned,
// Rotated, Adopted, Reused) and the id; how is "" when it did nothing.
type pinned struct {
	how         string
	id          int64
	fingerprint string
}

// announce emits the event of what was pinned. Ready=True then needs no event
// of its own.
func (p *pass) announce(done pinned) {
	p.announced = true
	fp, id := done.fingerprint, done.id
	switch done.how {
	case "Adopted":
		p.event(corev1.EventTypeNormal, done.how, fmt.Sprintf("chain %s was already pinned on bunq as id %d; adopted it", fp, id))
	case "Reused":
		p.event(corev1.EventTypeNormal, "Rotated", fmt.Sprintf("chain %s is still pinned as id %d from before; using it again", fp, id))
	case "Rotated":
		rotations.Inc()
		p.event(corev1.EventTypeNormal, done.how, fmt.Sprintf("renewed chain %s pinned as id %d", fp, id))
	default:
		p.event(corev1.EventTypeNormal, done.how, fmt.Sprintf("chain %s pinned as id %d", fp, id))
	}
}
