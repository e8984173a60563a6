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
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
)

// Requests whose outcome is unknown (design.md Behaviour 3b): a timeout, a
// lost reply, a crash between the pending write and the reply. bunq may still
// carry such a request out up to the client timeout after it was sent, so its
// chain stays on record in status.unsettled until a list read after that
// window settles it.

// unsettle puts a chain on record whose pin may commit up to the late-commit
// window after from.
func (p *pass) unsettle(fp string, from time.Time) {
	st := &p.obj.Status
	at := metav1.NewTime(roundUp(from.Add(p.r.lateCommitWindow())))
	for i, u := range st.Unsettled {
		if u.Fingerprint == fp {
			if at.After(u.SettleAfter.Time) {
				st.Unsettled[i].SettleAfter = at
			}
			return
		}
	}
	st.Unsettled = append(st.Unsettled, bunqv1alpha1.UnsettledPin{Fingerprint: fp, SettleAfter: at})
}

// recoverPending handles a pending chain found at the start of a pass: the
// pass that wrote it did not finish (a crash, or another leader), so its
// request may still commit. The chain goes on record as unsettled.
func (p *pass) recoverPending() {
	st := &p.obj.Status
	if st.Pending == "" {
		return
	}
	p.unsettle(st.Pending, p.now)
	st.Pending = ""
}

// settle resolves the unsettled chains whose late-commit window has passed,
// with a list of the pins read after it: a pin of such a chain that no
// resource records and none waits to adopt is removed; one that is wanted
// stays for adoption, and so does the newest of adopt, the chain this pass is
// about to pin. It returns how long until the next one is due.
func (p *pass) settle(ctx context.Context, acc *account, adopt string) (time.Duration, error) {
	st := &p.obj.Status
	var keep []bunqv1alpha1.UnsettledPin
	var next time.Duration
	for _, u := range st.Unsettled {
		if p.now.Before(u.SettleAfter.Time) {
			keep = append(keep, u)
			if d := u.SettleAfter.Sub(p.now); next == 0 || d < next {
				next = d
			}
			continue
		}
		if err := p.settleOne(ctx, acc, u, u.Fingerprint == adopt); err != nil {
			st.Unsettled = append(keep, st.Unsettled[len(keep):]...)
			return 0, err
		}
	}
	st.Unsettled = keep
	return next, nil
}

func (p *pass) settleOne(ctx context.Context, acc *account, u bunqv1alpha1.UnsettledPin, adopt bool) error {
	set := p.r.pins.user(p.user)
	if _, err := set.refresh(ctx, acc, u.SettleAfter.Time, p.now); err != nil {
		return err
	}
	k := chainKey{p.user, u.Fingerprint}
	unlock := p.r.pins.lock(k)
	defer unlock()
	for i, id := range set.withFingerprint(u.Fingerprint) {
		if adopt && i == 0 || slices.Contains(p.ownedIDs(), id) || !p.r.pins.removable(k, id, p.obj.UID) {
			continue
		}
		if err := acc.unpin(ctx, id); err != nil {
			return err
		}
		set.removed(id)
		p.event(corev1.EventTypeNormal, "Cleaned", fmt.Sprintf("removed pin %d left by a request whose outcome was unknown", id))
	}
	return nil
}
