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
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

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
	forced    bool    // a sync was requested through the annotation and is not handled yet
	events    []queuedEvent
}

// The times a pass works with: its defaults and when it wakes next.

func (r *BunqPinnedCertificateReconciler) lateCommitWindow() time.Duration {
	if r.LateCommitWindow > 0 {
		return r.LateCommitWindow
	}
	return bunq.DefaultTimeout
}

func (r *BunqPinnedCertificateReconciler) clock() clock.PassiveClock {
	if r.Clock != nil {
		return r.Clock
	}
	return clock.RealClock{}
}

func (r *BunqPinnedCertificateReconciler) now() time.Time { return r.clock().Now() }

func (r *BunqPinnedCertificateReconciler) resyncPeriod() time.Duration {
	if r.ResyncPeriod > 0 {
		return r.ResyncPeriod
	}
	return DefaultResyncPeriod
}

func (p *pass) retainPreviousFor() time.Duration {
	if d := p.obj.Spec.RetainPreviousFor; d != nil {
		return d.Duration
	}
	return defaultRetainPreviousFor
}

func (p *pass) resyncDue() bool {
	last := p.obj.Status.LastSyncTime
	return last == nil || !p.now.Before(last.Add(p.r.resyncPeriod()))
}

// nextWake is when the resource next needs bunq: its resync or a retirement.
func (p *pass) nextWake() time.Duration {
	next := p.now.Add(p.r.resyncPeriod())
	if last := p.obj.Status.LastSyncTime; last != nil {
		next = last.Add(p.r.resyncPeriod())
	}
	for _, prev := range p.obj.Status.Previous {
		at := prev.RetireAfter.Time
		if p.servedBy(prev) != nil && !p.now.Before(at) {
			at = servedUntil(prev) // held by an endpoint: rechecked below, capped here
		}
		if at.Before(next) {
			next = at
		}
	}
	if p.switching() {
		next = minTime(next, p.now.Add(endpointRecheck))
	}
	return max(next.Sub(p.now), time.Second)
}
