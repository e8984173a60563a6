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
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
)

// bunq opens one session per 30 s per IP, for all keys together: with 50 new
// keys the last waits 25 minutes. A pass that waited for that window would
// hold a worker, and a few such passes would hold them all, so that keys
// with a session could not even renew. Instead a key's session is opened in
// the background, its resources' passes return at once, and the opener
// wakes them when it is done.

// errAwaitingSession says a key's session is being opened.
var errAwaitingSession = &reasonError{reason: bunqv1alpha1.ReasonPinning,
	msg: "waiting for bunq to open a session for this API key: bunq opens one session per 30 s per IP, " +
		"for all keys together; the chain is pinned as soon as the session is open"}

// openRetry is how long a failed opening answers the passes that ask, before
// one of them starts the next.
const openRetry = time.Second

// sessionOpener opens one key's session in the background.
type sessionOpener struct {
	mu       sync.Mutex
	running  bool
	waiting  map[types.NamespacedName]bool
	failed   error
	failedAt time.Time
}

// await starts opening the session unless that is under way, and returns
// errAwaitingSession; or the last opening's error, for a while after it failed.
func (o *sessionOpener) await(who types.NamespacedName, clk clock.PassiveClock, open func() error, wake func(types.NamespacedName)) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failed != nil && clk.Since(o.failedAt) < openRetry {
		return o.failed
	}
	if o.waiting == nil {
		o.waiting = map[types.NamespacedName]bool{}
	}
	o.waiting[who] = true
	if !o.running {
		o.running = true
		go o.run(clk, open, wake)
	}
	return errAwaitingSession
}

func (o *sessionOpener) run(clk clock.PassiveClock, open func() error, wake func(types.NamespacedName)) {
	err := open()
	o.mu.Lock()
	o.running = false
	o.failed, o.failedAt = err, clk.Now()
	waiting := o.waiting
	o.waiting = nil
	o.mu.Unlock()
	for who := range waiting {
		wake(who)
	}
}

// awaitSession returns nil when the key has a session; otherwise it has the
// session opened in the background (through the key gate, as every call) and
// who woken then.
func (a *accounts) awaitSession(acc *account, who types.NamespacedName) error {
	if acc.client.HasSession() {
		return nil
	}
	open := func() error {
		_, err := acc.userID(a.background)
		return err
	}
	return acc.opener.await(who, a.clock, open, a.wake)
}
