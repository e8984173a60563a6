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
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

// account is one API context: a client, shared by every resource that uses
// the same API key, and what bunq said of the key.
type account struct {
	client BunqClient
	gate   keyGate
	store  *secretStore

	usersMu sync.Mutex
	users   map[types.UID]bool // as recorded in the context Secret; nil until read

	callbacks callbackList
	opener    sessionOpener
}

// accounts holds one account per (environment, API key) that some resource uses.
type accounts struct {
	newClient ClientFactory
	reader    client.Reader
	writer    client.Client
	namespace string
	clock     clock.PassiveClock
	backoff   time.Duration // first wait after bunq refused a key
	// wake brings a resource back once its key's session is open; background
	// is the context sessions are opened with, ended when the manager stops.
	wake       func(types.NamespacedName)
	background context.Context

	mu        sync.Mutex
	byContext map[string]*account           // context Secret name → its client
	users     map[string]map[types.UID]bool // context name → resources using it
	used      map[types.UID]string          // resource → context name
	orphans   map[types.UID]*account        // key-less accounts of resources being deleted
}

// get returns the account of a key and records that uid uses it; an account
// no resource uses any more is dropped, so a key rewritten in a loop does not
// make the process grow.
func (a *accounts) get(uid types.UID, env bunqv1alpha1.Environment, apiKey string) (*account, error) {
	name := contextSecretName(env, apiKey)
	a.mu.Lock()
	defer a.mu.Unlock()
	acc, ok := a.byContext[name]
	if !ok {
		var err error
		if acc, err = a.open(env, name, apiKey); err != nil {
			return nil, err
		}
		if a.byContext == nil {
			a.byContext, a.users, a.used = map[string]*account{}, map[string]map[types.UID]bool{}, map[types.UID]string{}
		}
		a.byContext[name] = acc
	}
	if a.used[uid] != name {
		a.releaseLocked(uid)
		if a.users[name] == nil {
			a.users[name] = map[types.UID]bool{}
		}
		a.users[name][uid] = true
		a.used[uid] = name
	}
	return acc, nil
}

// open makes the account of a context Secret; without an API key its client
// works with the stored session only.
func (a *accounts) open(env bunqv1alpha1.Environment, name, apiKey string) (*account, error) {
	store := &secretStore{reader: a.reader, writer: a.writer, env: env,
		key: types.NamespacedName{Namespace: a.namespace, Name: name}}
	c, err := a.newClient(env, apiKey, store)
	if err != nil {
		return nil, err
	}
	return &account{client: c, gate: keyGate{clock: a.clock, first: a.backoff}, store: store}, nil
}

// remember records in the context Secret that uid uses the account, once.
func (acc *account) remember(ctx context.Context, uid types.UID) error {
	acc.usersMu.Lock()
	defer acc.usersMu.Unlock()
	if acc.users == nil {
		users, err := acc.store.users(ctx)
		if err != nil {
			return err
		}
		acc.users = users
	}
	if acc.users[uid] {
		return nil
	}
	acc.users[uid] = true
	if err := acc.store.saveUsers(ctx, acc.users); err != nil {
		delete(acc.users, uid)
		return err
	}
	return nil
}

// forgetUser removes uid from the context Secret's users; best effort: a
// stale entry only makes a lookup find a context it then does not use.
func (acc *account) forgetUser(ctx context.Context, uid types.UID) {
	acc.usersMu.Lock()
	defer acc.usersMu.Unlock()
	if acc.users == nil || !acc.users[uid] {
		return
	}
	delete(acc.users, uid)
	_ = acc.store.saveUsers(ctx, acc.users)
}

// orphaned returns an account a resource can still unpin through after its
// API key Secret is gone: the one it used in this process, else a context
// Secret that records it as a user and whose stored session acts for userID,
// with a client that has no key. nil when there is none.
func (a *accounts) orphaned(ctx context.Context, uid types.UID, userID int64) (*account, error) {
	a.mu.Lock()
	acc := a.byContext[a.used[uid]]
	if acc == nil {
		acc = a.orphans[uid]
	}
	a.mu.Unlock()
	if acc != nil {
		return acc, nil
	}
	found, err := storedContexts(ctx, a.reader, a.namespace, uid)
	if err != nil {
		return nil, err
	}
	for _, sc := range found {
		if sc.userID != userID {
			continue
		}
		// Kept until the resource is gone: its session is loaded once,
		// not by every pass.
		acc, err := a.open(sc.env, sc.name, "")
		if err != nil {
			return nil, err
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.orphans == nil {
			a.orphans = map[types.UID]*account{}
		}
		a.orphans[uid] = acc
		return acc, nil
	}
	return nil, nil
}

// release says uid uses no account any more, here and in the context Secret.
func (a *accounts) release(ctx context.Context, uid types.UID) {
	a.mu.Lock()
	acc := a.byContext[a.used[uid]]
	a.releaseLocked(uid)
	a.mu.Unlock()
	if acc != nil {
		acc.forgetUser(ctx, uid)
	}
}

func (a *accounts) releaseLocked(uid types.UID) {
	delete(a.orphans, uid)
	name, ok := a.used[uid]
	if !ok {
		return
	}
	delete(a.used, uid)
	delete(a.users[name], uid)
	if len(a.users[name]) == 0 {
		delete(a.users, name)
		delete(a.byContext, name)
	}
}

// has says whether the account of a context Secret is kept.
func (a *accounts) has(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.byContext[name]
	return ok
}

// usedBy names the account a resource uses, if any.
func (a *accounts) usedBy(uid types.UID) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if name, ok := a.used[uid]; ok {
		return []string{name}
	}
	return nil
}

// userID returns the bunq user the key acts for.
func (acc *account) userID(ctx context.Context) (int64, error) {
	var id int64
	err := acc.gate.do(ctx, func() (err error) {
		id, err = acc.client.UserID(ctx)
		return err
	})
	return id, err
}

// list reads every pin of the key's user: id → fingerprint.
func (acc *account) list(ctx context.Context) (map[int64]string, error) {
	var list []bunq.Pin
	err := acc.gate.do(ctx, func() (err error) {
		list, err = acc.client.ListPins(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	pins := make(map[int64]string, len(list))
	for _, p := range list {
		pins[p.ID] = pinnedFingerprint(p.Chain)
	}
	return pins, nil
}

// pin pins a chain.
func (acc *account) pin(ctx context.Context, c *chain) (int64, error) {
	var id int64
	err := acc.gate.do(ctx, func() (err error) {
		id, err = acc.client.CreatePin(ctx, c.pems)
		return err
	})
	return id, err
}

// unpin removes a pin; one bunq says (signed) is gone counts as removed.
func (acc *account) unpin(ctx context.Context, id int64) error {
	err := acc.gate.do(ctx, func() error { return acc.client.DeletePin(ctx, id) })
	if bunq.IsNotFound(err) {
		return nil
	}
	return err
}
