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

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

// pin makes bunq hold c for this resource: it reuses the id of c when c is
// still one of the resource's previous chains, adopts a pin of c that exists
// (one another resource records first, so a shared chain keeps one id), and
// otherwise records c as pending before creating the pin, so that a crash in
// between leaves a trace that a later pass settles.
func (p *pass) pin(ctx context.Context, acc *account, c *chain) (pinned, error) {
	st := &p.obj.Status
	rotation := st.PinnedCertificateID != 0
	if rotation {
		// A renewal is urgent: it goes before first pins and resyncs.
		ctx = bunq.WithPriority(ctx, bunq.PriorityHigh)
		if err := p.makeRoom(ctx, acc); err != nil {
			return pinned{}, err
		}
	}
	k := chainKey{p.user, c.fingerprint}
	unlock := p.r.pins.lock(k)
	defer unlock()
	p.r.pins.claim(p.obj.UID, k, 0)
	id, how, err := p.findPin(ctx, acc, c)
	if err != nil {
		return pinned{}, err
	}
	if id == 0 {
		if id, err = p.create(ctx, acc, c); err != nil {
			return pinned{}, err
		}
		how = "Pinned"
		if rotation {
			how = "Rotated"
		}
	}
	p.r.pins.claim(p.obj.UID, k, id)
	p.record(id, c)
	return pinned{how: how, id: id, fingerprint: c.fingerprint}, nil
}

// findPin returns a pin of c bunq already holds for this user, and how it was
// found; 0 when there is none. Called under the chain's lock.
func (p *pass) findPin(ctx context.Context, acc *account, c *chain) (int64, string, error) {
	for _, prev := range p.obj.Status.Previous {
		if prev.Fingerprint == c.fingerprint {
			return prev.ID, "Reused", nil
		}
	}
	set := p.r.pins.user(p.user)
	if _, err := set.refresh(ctx, acc, time.Time{}, p.now); err != nil {
		return 0, "", err
	}
	id := set.pick(c.fingerprint, p.r.pins.shared(chainKey{p.user, c.fingerprint}, p.obj.UID))
	return id, "Adopted", nil
}

// create records c as pending, then pins it. A request whose outcome is
// unknown (a timeout, a reset, a 5xx) may still commit: its chain goes on
// record as unsettled until a later list settles it (design.md Behaviour 3b).
func (p *pass) create(ctx context.Context, acc *account, c *chain) (int64, error) {
	st := &p.obj.Status
	if len(st.Unsettled) >= bunqv1alpha1.MaxUnsettled {
		return 0, &reasonError{reason: bunqv1alpha1.ReasonBunqUnavailable, msg: fmt.Sprintf(
			"%d pin requests with an unknown outcome are not settled yet; no new one before they are", len(st.Unsettled))}
	}
	st.Pending, st.UserID = c.fingerprint, p.user.id
	p.report(metav1.ConditionFalse, bunqv1alpha1.ReasonPinning, "pinning chain "+c.fingerprint+" on bunq")
	if err := p.writeStatus(ctx); err != nil {
		return 0, err
	}
	id, err := acc.pin(ctx, c)
	st.Pending = ""
	if err != nil {
		if !definitelyNotPinned(err) {
			p.unsettle(c.fingerprint, p.r.now())
		}
		return 0, err
	}
	p.r.pins.user(p.user).added(id, c.fingerprint)
	return id, nil
}

// definitelyNotPinned says nothing was created: bunq itself refused the pin,
// or the request never reached it.
func definitelyNotPinned(err error) bool {
	var be *bunq.Error
	return bunq.IsNotSent(err) || errors.As(err, &be) && !be.Unsigned && be.StatusCode >= 400 && be.StatusCode < 500
}

// record makes id the current pin and keeps the one it replaces for the overlap.
func (p *pass) record(id int64, c *chain) {
	st := &p.obj.Status
	var previous []bunqv1alpha1.PreviousPin
	for _, prev := range st.Previous {
		if prev.ID != id && prev.Fingerprint != c.fingerprint {
			previous = append(previous, prev)
		}
	}
	if st.PinnedCertificateID != 0 && st.PinnedCertificateID != id {
		replaced := metav1.NewTime(p.now)
		prev := bunqv1alpha1.PreviousPin{ID: st.PinnedCertificateID, Fingerprint: st.Fingerprint,
			RetireAfter: metav1.NewTime(p.retireAfter()), ReplacedAt: &replaced}
		if st.Certificate != nil {
			prev.LeafFingerprint = st.Certificate.Fingerprint
		}
		previous = append(previous, prev)
	}
	st.Previous = previous
	st.PinnedCertificateID, st.UserID, st.Fingerprint = id, p.user.id, c.fingerprint
	st.Certificate = c.info()
	st.Pending = ""
	now := metav1.NewTime(p.now)
	st.LastSyncTime = &now
}

// makeRoom retires the oldest previous chains early when previous[] is full,
// before a rotation adds one: a Secret flipping faster than its overlap must
// not grow the status without end.
func (p *pass) makeRoom(ctx context.Context, acc *account) error {
	st := &p.obj.Status
	for len(st.Previous) >= bunqv1alpha1.MaxPrevious {
		oldest := st.Previous[0]
		if _, err := p.release(ctx, acc, oldest.Fingerprint, oldest.ID); err != nil {
			return err
		}
		st.Previous = st.Previous[1:]
		p.event(corev1.EventTypeNormal, "Retired", fmt.Sprintf("previous chain %s retired early (id %d): at most %d previous chains are kept",
			oldest.Fingerprint, oldest.ID, bunqv1alpha1.MaxPrevious))
	}
	return nil
}

// retireAfter is when a chain replaced now is unpinned, rounded up to a whole
// second: status times are stored without fractions, and truncating would
// shorten the overlap. 0s retires at once.
func (p *pass) retireAfter() time.Time {
	d := p.retainPreviousFor()
	if d <= 0 {
		return p.now
	}
	return roundUp(p.now.Add(d))
}

// roundUp rounds a time up to a whole second, as status stores it.
func roundUp(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

// checkDrift reads the pins back and pins again when the recorded id is gone or
// holds another chain. A list read after this resource's last sync (and within
// a period) is new information and is reused; the resource's lastSyncTime
// becomes the list's time, so the resources on a key fall into step: one list
// per resync period, ⌈N/200⌉ GETs.
func (p *pass) checkDrift(ctx context.Context, acc *account, c *chain) (pinned, error) {
	ctx = bunq.WithPriority(ctx, bunq.PriorityLow)
	st := &p.obj.Status
	notBefore := p.now.Add(-p.r.resyncPeriod())
	if p.forced {
		notBefore = p.now // a forced sync reads bunq again
	} else if st.LastSyncTime != nil {
		// Status drops fractions of a second: a second's margin keeps a resource
		// from taking the list it was last synced with for a new one.
		if last := st.LastSyncTime.Add(time.Second); last.After(notBefore) {
			notBefore = last
		}
	}
	set := p.r.pins.user(p.user)
	listedAt, err := set.refresh(ctx, acc, notBefore, p.now)
	if err != nil {
		return pinned{}, err
	}
	if fp, ok := set.lookup(st.PinnedCertificateID); ok && fp == c.fingerprint {
		synced := metav1.NewTime(listedAt)
		st.LastSyncTime = &synced
		return pinned{}, p.deduplicate(ctx, acc, c)
	}
	p.event(corev1.EventTypeWarning, "Drift", fmt.Sprintf("pin %d is no longer on bunq with this chain; pinning again", st.PinnedCertificateID))
	st.PinnedCertificateID = 0
	return p.pin(ctx, acc, c)
}

// retire unpins previous chains whose overlap has passed and whose leaf no
// reachable endpoint serves any more (24h after the rotation at the latest),
// unless another resource still wants them. The current id is never retired.
func (p *pass) retire(ctx context.Context, acc *account) error {
	st := &p.obj.Status
	var keep []bunqv1alpha1.PreviousPin
	var firstErr error
	for _, prev := range st.Previous {
		if p.now.Before(prev.RetireAfter.Time) || firstErr != nil || p.heldByEndpoint(prev) {
			keep = append(keep, prev)
			continue
		}
		if prev.ID == st.PinnedCertificateID || prev.Fingerprint == st.Fingerprint {
			continue
		}
		unpinned, err := p.release(ctx, acc, prev.Fingerprint, prev.ID)
		if err != nil {
			firstErr = err
			keep = append(keep, prev)
			continue
		}
		if unpinned {
			p.event(corev1.EventTypeNormal, "Retired", fmt.Sprintf("previous chain %s unpinned (id %d)", prev.Fingerprint, prev.ID))
		} else {
			p.event(corev1.EventTypeNormal, "Retired", fmt.Sprintf("previous chain %s let go (id %d): another resource "+
				"of this bunq user still uses it, so it stays pinned", prev.Fingerprint, prev.ID))
		}
	}
	st.Previous = keep
	return firstErr
}

// heldByEndpoint says a previous chain stays because an endpoint still serves
// its leaf; past the 24h cap it goes anyway, with a warning.
func (p *pass) heldByEndpoint(prev bunqv1alpha1.PreviousPin) bool {
	e := p.servedBy(prev)
	if e == nil {
		return false
	}
	if p.now.Before(servedUntil(prev)) {
		return true
	}
	p.event(corev1.EventTypeWarning, "EndpointNotSwitched", fmt.Sprintf("%s still serves the previous certificate (serial %s) "+
		"24h after the rotation; unpinning chain %s (id %d) anyway: callbacks there fail until it serves the current certificate",
		e.URL, e.ServedLeafSerial, prev.Fingerprint, prev.ID))
	return false
}

// deduplicate moves the resource to the smallest id of its chain that another
// resource records and bunq holds, and lets its own go: a chain pinned twice
// (by an older version, or bunq committing a request twice) becomes one pin.
func (p *pass) deduplicate(ctx context.Context, acc *account, c *chain) error {
	st := &p.obj.Status
	k := chainKey{p.user, c.fingerprint}
	unlock := p.r.pins.lock(k)
	defer unlock()
	set := p.r.pins.user(p.user)
	keep := st.PinnedCertificateID
	for id := range p.r.pins.shared(k, p.obj.UID) {
		if fp, ok := set.lookup(id); ok && fp == c.fingerprint && id < keep {
			keep = id
		}
	}
	if keep == st.PinnedCertificateID {
		return nil
	}
	own := st.PinnedCertificateID
	st.PinnedCertificateID = keep
	// The status names keep before own goes: whoever reads it must never find
	// a pin that is no longer on bunq.
	if err := p.writeStatus(ctx); err != nil {
		st.PinnedCertificateID = own
		return err
	}
	p.r.pins.move(p.obj.UID, k, keep)
	unpinned, err := p.releaseLocked(ctx, acc, k, own)
	p.r.pins.claim(p.obj.UID, k, keep) // releasing own let go of the chain; it is still wanted, as keep
	if err != nil {
		return err
	}
	note := "it stays for the other resources that use it"
	if unpinned {
		note = "it was unpinned"
	}
	p.event(corev1.EventTypeNormal, "Deduplicated", fmt.Sprintf("chain %s was pinned twice; using id %d, "+
		"which other resources use, instead of %d: %s", c.fingerprint, keep, own, note))
	return nil
}

// release lets go of one of this resource's pins: bunq unpins it when no other
// resource of the user wants its chain or records its id. It says whether it
// was unpinned.
func (p *pass) release(ctx context.Context, acc *account, fp string, id int64) (bool, error) {
	k := chainKey{p.user, fp}
	unlock := p.r.pins.lock(k)
	defer unlock()
	return p.releaseLocked(ctx, acc, k, id)
}

// releaseLocked is release under the chain's lock. It lets go in the same
// step as the decision: two resources of one chain that go at once must not
// each keep the pin for the other.
func (p *pass) releaseLocked(ctx context.Context, acc *account, k chainKey, id int64) (bool, error) {
	if !p.r.pins.removable(k, id, p.obj.UID) {
		p.log.V(1).Info("pin still wanted by another resource; left on bunq", "id", id, "fingerprint", k.fp)
		p.r.pins.unclaim(p.obj.UID, k)
		return false, nil
	}
	if err := acc.unpin(ctx, id); err != nil {
		return false, err
	}
	p.r.pins.user(p.user).removed(id)
	p.r.pins.unclaim(p.obj.UID, k)
	return true, nil
}
