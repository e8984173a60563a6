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
	"strconv"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/keymutex"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
)

// userKey names a bunq user: ids are unique within one environment.
type userKey struct {
	env bunqv1alpha1.Environment
	id  int64
}

// chainKey is one chain of one user.
type chainKey struct {
	user userKey
	fp   string
}

// pinSets are the bunq users' pins as one reference-counted set each
// (design.md Behaviour 3). The wanted side is a table of which resource wants
// which chain of which user, filled from a live list of the resources when the
// process first needs it (after it became leader) and kept current with every
// status this process writes. The actual side is each user's pins as last
// listed, plus this process's own changes since. Decisions about one chain of
// one user (adopt, pin, unpin) are made under that chain's lock; chains do not
// interact, so different chains go on in parallel.
type pinSets struct {
	live       client.Reader
	namespaces []string // those served; none: all
	locks      keymutex.KeyMutex

	loadMu sync.Mutex
	loaded atomic.Bool // every pass asks; only the first ones wait

	mu    sync.Mutex
	users map[userKey]*userPins
	wants map[chainKey]map[types.UID]int64 // resource → the id it records (0: none yet)
	refs  map[types.UID]resourceRefs
}

// resourceRefs is what one resource wants of one user: fingerprint → id (0: none yet).
type resourceRefs struct {
	user   userKey
	chains map[string]int64
}

func newPinSets(live client.Reader, namespaces []string) *pinSets {
	return &pinSets{live: live, namespaces: namespaces, locks: keymutex.NewHashed(64), users: map[userKey]*userPins{},
		wants: map[chainKey]map[types.UID]int64{}, refs: map[types.UID]resourceRefs{}}
}

// load fills the table from a live list of every resource served, once per process.
func (s *pinSets) load(ctx context.Context) error {
	if s.loaded.Load() {
		return nil
	}
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if s.loaded.Load() {
		return nil
	}
	scopes := s.namespaces
	if len(scopes) == 0 {
		scopes = []string{metav1.NamespaceAll}
	}
	for _, ns := range scopes {
		list := &bunqv1alpha1.BunqPinnedCertificateList{}
		if err := s.live.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err
		}
		for i := range list.Items {
			s.track(&list.Items[i])
		}
	}
	s.loaded.Store(true)
	return nil
}

// lock serializes the decisions about one chain of one user.
func (s *pinSets) lock(k chainKey) (unlock func()) {
	name := string(k.user.env) + "/" + strconv.FormatInt(k.user.id, 10) + "/" + k.fp
	s.locks.LockKey(name)
	return func() { _ = s.locks.UnlockKey(name) }
}

// wantsOf is what a resource's status says it wants: its current chain, its
// previous chains and the chains whose pin may exist without being recorded.
func wantsOf(obj *bunqv1alpha1.BunqPinnedCertificate) resourceRefs {
	st := obj.Status
	r := resourceRefs{user: userKey{env: obj.Spec.Environment, id: st.UserID}, chains: map[string]int64{}}
	add := func(fp string, id int64) {
		if fp != "" && r.chains[fp] == 0 {
			r.chains[fp] = id
		}
	}
	add(st.Fingerprint, st.PinnedCertificateID)
	for _, prev := range st.Previous {
		add(prev.Fingerprint, prev.ID)
	}
	add(st.Pending, 0)
	for _, u := range st.Unsettled {
		add(u.Fingerprint, 0)
	}
	return r
}

// track makes the table say what the resource's status says.
func (s *pinSets) track(obj *bunqv1alpha1.BunqPinnedCertificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgetLocked(obj.UID)
	r := wantsOf(obj)
	if r.user.id == 0 || len(r.chains) == 0 {
		return
	}
	s.refs[obj.UID] = r
	for fp, id := range r.chains {
		k := chainKey{r.user, fp}
		if s.wants[k] == nil {
			s.wants[k] = map[types.UID]int64{}
		}
		s.wants[k][obj.UID] = id
	}
}

// note adds what a resource's status, as just read from the API server, says
// it wants, keeping what the table has: statuses written outside this
// process's passes since the table was filled become known.
func (s *pinSets) note(obj *bunqv1alpha1.BunqPinnedCertificate) {
	r := wantsOf(obj)
	if r.user.id == 0 {
		return
	}
	for fp, id := range r.chains {
		s.claim(obj.UID, chainKey{r.user, fp}, id)
	}
}

// move records that a resource now uses another id of a chain.
func (s *pinSets) move(uid types.UID, k chainKey, id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.refs[uid]; ok && r.user == k.user {
		r.chains[k.fp] = id
	}
	if s.wants[k] != nil {
		s.wants[k][uid] = id
	}
}

// claim records that a resource wants a chain before anything is done for it,
// so that no other decision removes the pin it is about to adopt or make.
func (s *pinSets) claim(uid types.UID, k chainKey, id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refs[uid]
	if !ok || r.user != k.user {
		s.forgetLocked(uid)
		if ok {
			s.dropUnusedUserLocked(r.user) // the resource moved to another user
		}
		r = resourceRefs{user: k.user, chains: map[string]int64{}}
		s.refs[uid] = r
	}
	if r.chains[k.fp] == 0 {
		r.chains[k.fp] = id
	}
	if s.wants[k] == nil {
		s.wants[k] = map[types.UID]int64{}
	}
	if s.wants[k][uid] == 0 {
		s.wants[k][uid] = id
	}
}

// unclaim records that a resource no longer wants a chain.
func (s *pinSets) unclaim(uid types.UID, k chainKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.refs[uid]; ok && r.user == k.user {
		delete(r.chains, k.fp)
	}
	delete(s.wants[k], uid)
	if len(s.wants[k]) == 0 {
		delete(s.wants, k)
	}
}

// forget removes a resource that is gone.
func (s *pinSets) forget(uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refs[uid]
	s.forgetLocked(uid)
	if ok {
		s.dropUnusedUserLocked(r.user)
	}
}

func (s *pinSets) forgetLocked(uid types.UID) {
	r, ok := s.refs[uid]
	if !ok {
		return
	}
	for fp := range r.chains {
		k := chainKey{r.user, fp}
		delete(s.wants[k], uid)
		if len(s.wants[k]) == 0 {
			delete(s.wants, k)
		}
	}
	delete(s.refs, uid)
}

// dropUnusedUserLocked forgets the pins listed for a user no resource uses
// any more, so that keys of ever new users do not make the process grow.
func (s *pinSets) dropUnusedUserLocked(user userKey) {
	for _, r := range s.refs {
		if r.user == user {
			return
		}
	}
	delete(s.users, user)
}

// removable says whether a pin may go: no resource but except records its id,
// and none but except wants its chain without an id of its own yet (it would
// adopt this one). Call it under the chain's lock.
func (s *pinSets) removable(k chainKey, id int64, except types.UID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for uid, ref := range s.wants[k] {
		if uid != except && (ref == id || ref == 0) {
			return false
		}
	}
	return true
}

// shared returns the ids of a chain that resources other than except record.
func (s *pinSets) shared(k chainKey, except types.UID) map[int64]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := map[int64]bool{}
	for uid, id := range s.wants[k] {
		if uid != except && id != 0 {
			ids[id] = true
		}
	}
	return ids
}

// user returns the pins of a bunq user.
func (s *pinSets) user(k userKey) *userPins {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[k]
	if !ok {
		u = &userPins{}
		s.users[k] = u
	}
	return u
}
