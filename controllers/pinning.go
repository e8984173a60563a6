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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

// pin makes bunq hold c: it adopts a pin of the same chain when one exists, and
// otherwise records the chain as pending before creating the pin, so that a
// crash in between leaves a trace that the next pass resolves.
func (p *pass) pin(ctx context.Context, acc *account, c *chain) error {
	st := &p.obj.Status
	rotation := st.PinnedCertificateID != 0
	if rotation {
		// A renewal is urgent: it goes before first pins and resyncs.
		ctx = bunq.WithPriority(ctx, bunq.PriorityHigh)
	}
	skip, err := p.referencedElsewhere(ctx, acc)
	if err != nil {
		return err
	}
	if _, err := acc.refresh(ctx, time.Time{}, p.now); err != nil {
		return err
	}
	id, adopted := int64(0), false
	if ids := acc.withFingerprint(c.fingerprint, skip); len(ids) > 0 {
		id, adopted = ids[0], true
	} else {
		st.Pending = c.fingerprint
		p.report(metav1.ConditionFalse, bunqv1alpha1.ReasonPinning, "pinning chain "+c.fingerprint+" on bunq")
		if err := p.writeStatus(ctx); err != nil {
			return err
		}
		if id, err = acc.pin(ctx, c); err != nil {
			if definitelyNotPinned(err) {
				st.Pending = ""
			}
			return err
		}
	}
	userID, err := acc.client.UserID(ctx)
	if err != nil {
		return err
	}
	p.record(id, userID, c)
	p.announced = true
	switch {
	case adopted:
		p.event(corev1.EventTypeNormal, "Adopted", fmt.Sprintf("chain %s was already pinned on bunq as id %d; adopted it", c.fingerprint, id))
	case rotation:
		rotations.Inc()
		p.event(corev1.EventTypeNormal, "Rotated", fmt.Sprintf("renewed chain %s pinned as id %d", c.fingerprint, id))
	default:
		p.event(corev1.EventTypeNormal, "Pinned", fmt.Sprintf("chain %s pinned as id %d", c.fingerprint, id))
	}
	return nil
}

// definitelyNotPinned says bunq answered a pin with a refusal: nothing was created.
func definitelyNotPinned(err error) bool {
	var be *bunq.Error
	return errors.As(err, &be) && be.StatusCode >= 400 && be.StatusCode < 500
}

// record makes id the current pin and keeps the one it replaces for the overlap.
func (p *pass) record(id, userID int64, c *chain) {
	st := &p.obj.Status
	var previous []bunqv1alpha1.PreviousPin
	for _, prev := range st.Previous {
		if prev.ID != id {
			previous = append(previous, prev)
		}
	}
	if st.PinnedCertificateID != 0 && st.PinnedCertificateID != id {
		previous = append(previous, bunqv1alpha1.PreviousPin{ID: st.PinnedCertificateID, Fingerprint: st.Fingerprint,
			RetireAfter: metav1.NewTime(p.retireAfter())})
	}
	st.Previous = previous
	st.PinnedCertificateID, st.UserID, st.Fingerprint = id, userID, c.fingerprint
	st.Certificate = c.info()
	st.Pending = ""
	now := metav1.NewTime(p.now)
	st.LastSyncTime = &now
}

// retireAfter is when a chain replaced now is unpinned, rounded up to a whole
// second: status times are stored without fractions, and truncating would
// shorten the overlap. 0s retires at once.
func (p *pass) retireAfter() time.Time {
	d := p.retainPreviousFor()
	if d <= 0 {
		return p.now
	}
	t := p.now.Add(d)
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

// recoverPending resolves a pin that may have been made without being recorded:
// for the wanted chain it keeps one pin (the pass then adopts it) and removes
// duplicates; for a chain no longer wanted it removes them all.
func (p *pass) recoverPending(ctx context.Context, acc *account, c *chain) error {
	st := &p.obj.Status
	skip, err := p.referencedElsewhere(ctx, acc)
	if err != nil {
		return err
	}
	if _, err := acc.refresh(ctx, p.now, p.now); err != nil {
		return err
	}
	ids := acc.withFingerprint(st.Pending, skip)
	if st.Pending == c.fingerprint && len(ids) > 0 {
		ids = ids[1:]
	}
	for _, id := range ids {
		if err := acc.unpin(ctx, id); err != nil {
			return err
		}
		p.event(corev1.EventTypeNormal, "Cleaned", fmt.Sprintf("removed pin %d left by an interrupted sync", id))
	}
	st.Pending = ""
	return nil
}

// referencedElsewhere returns the ids of the account's user that this resource's
// previous chains and every other resource's status refer to: never adopted,
// never removed as leftovers.
func (p *pass) referencedElsewhere(ctx context.Context, acc *account) (map[int64]bool, error) {
	userID, err := acc.client.UserID(ctx)
	if err != nil {
		return nil, err
	}
	list := &bunqv1alpha1.BunqPinnedCertificateList{}
	if err := p.r.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	skip := map[int64]bool{}
	for _, other := range list.Items {
		if other.UID == p.obj.UID || other.Status.UserID != userID {
			continue
		}
		skip[other.Status.PinnedCertificateID] = true
		for _, prev := range other.Status.Previous {
			skip[prev.ID] = true
		}
	}
	for _, prev := range p.obj.Status.Previous {
		skip[prev.ID] = true
	}
	return skip, nil
}

// checkDrift reads the pins back and pins again when the recorded id is gone or
// holds another chain. A list read after this resource's last sync (and within
// a period) is new information and is reused; the resource's lastSyncTime
// becomes the list's time, so the resources on a key fall into step: one list
// per resync period, ⌈N/200⌉ GETs.
func (p *pass) checkDrift(ctx context.Context, acc *account, c *chain) error {
	ctx = bunq.WithPriority(ctx, bunq.PriorityLow)
	st := &p.obj.Status
	notBefore := p.now.Add(-p.r.resyncPeriod())
	if st.LastSyncTime != nil {
		// Status drops fractions of a second: a second's margin keeps a resource
		// from taking the list it was last synced with for a new one.
		if last := st.LastSyncTime.Add(time.Second); last.After(notBefore) {
			notBefore = last
		}
	}
	listedAt, err := acc.refresh(ctx, notBefore, p.now)
	if err != nil {
		return err
	}
	if fp, ok := acc.lookup(st.PinnedCertificateID); ok && fp == c.fingerprint {
		synced := metav1.NewTime(listedAt)
		st.LastSyncTime = &synced
		return nil
	}
	p.event(corev1.EventTypeWarning, "Drift", fmt.Sprintf("pin %d is no longer on bunq with this chain; pinning again", st.PinnedCertificateID))
	st.PinnedCertificateID = 0
	return p.pin(ctx, acc, c)
}

// retire unpins previous chains whose overlap has passed.
func (p *pass) retire(ctx context.Context, acc *account) error {
	st := &p.obj.Status
	var keep []bunqv1alpha1.PreviousPin
	var firstErr error
	for _, prev := range st.Previous {
		if p.now.Before(prev.RetireAfter.Time) || firstErr != nil {
			keep = append(keep, prev)
			continue
		}
		if err := acc.unpin(ctx, prev.ID); err != nil {
			firstErr = err
			keep = append(keep, prev)
			continue
		}
		p.event(corev1.EventTypeNormal, "Retired", fmt.Sprintf("previous chain %s unpinned (id %d)", prev.Fingerprint, prev.ID))
	}
	st.Previous = keep
	return firstErr
}
