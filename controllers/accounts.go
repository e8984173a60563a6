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
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

// BunqClient is what the controller needs from bunq; *bunq.Client has it.
type BunqClient interface {
	UserID(ctx context.Context) (int64, error)
	PinCertificateChain(ctx context.Context, pems []string) (int64, error)
	ListCertificatePins(ctx context.Context) ([]bunq.CertificatePin, error)
	UnpinCertificate(ctx context.Context, id int64) error
}

var _ BunqClient = &bunq.Client{}

// ClientFactory makes a client for an environment and API key, persisting its
// API context in store. main builds the real one; only main knows bunq's URLs.
type ClientFactory func(env bunqv1alpha1.Environment, apiKey string, store bunq.ContextStore) (BunqClient, error)

// contextKeyData is the data key of a context Secret.
const contextKeyData = "context"

// contextSecretName is bunq-context-<first 16 hex of sha256(env+key)>: stable
// across restarts, and no use to anyone who reads it.
func contextSecretName(env bunqv1alpha1.Environment, apiKey string) string {
	sum := sha256.Sum256([]byte(string(env) + apiKey))
	return "bunq-context-" + hex.EncodeToString(sum[:])[:16]
}

// secretStore keeps an API context in a Secret of the operator's namespace.
type secretStore struct {
	reader client.Reader // uncached: Secrets are cached as metadata only
	writer client.Client
	key    types.NamespacedName
	env    bunqv1alpha1.Environment
}

var _ bunq.ContextStore = &secretStore{}

func (s *secretStore) Load(ctx context.Context) (*bunq.APIContext, error) {
	secret := &corev1.Secret{}
	err := s.reader.Get(ctx, s.key, secret)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	data, ok := secret.Data[contextKeyData]
	if !ok {
		return nil, nil
	}
	return bunq.UnmarshalContext(data)
}

func (s *secretStore) Save(ctx context.Context, c *bunq.APIContext) error {
	data, err := bunq.MarshalContext(c)
	if err != nil {
		return err
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s.key.Name, Namespace: s.key.Namespace}}
	secret.Labels = map[string]string{
		"app.kubernetes.io/managed-by": "bunq-pinning-operator",
		"bunq.pinq.dev/environment":    string(s.env),
	}
	secret.Type = corev1.SecretTypeOpaque
	secret.Data = map[string][]byte{contextKeyData: data}
	err = s.writer.Update(ctx, secret)
	if apierrors.IsNotFound(err) {
		secret.ResourceVersion = ""
		err = s.writer.Create(ctx, secret)
	}
	if err != nil {
		return fmt.Errorf("store API context in Secret %s: %w", s.key, err)
	}
	return nil
}

// account is one API context: a client, shared by every resource that uses
// the same API key, and what bunq said of the key.
type account struct {
	client BunqClient
	gate   keyGate
}

// accounts holds one account per (environment, API key) that some resource uses.
type accounts struct {
	newClient ClientFactory
	reader    client.Reader
	writer    client.Client
	namespace string
	now       func() time.Time
	backoff   time.Duration // first wait after bunq refused a key

	mu    sync.Mutex
	byID  map[string]*account
	users map[string]map[types.UID]bool // context name → resources using it
	used  map[types.UID]string          // resource → context name
}

// get returns the account of a key and records that uid uses it; an account
// no resource uses any more is dropped, so a key rewritten in a loop does not
// make the process grow.
func (a *accounts) get(uid types.UID, env bunqv1alpha1.Environment, apiKey string) (*account, error) {
	name := contextSecretName(env, apiKey)
	a.mu.Lock()
	defer a.mu.Unlock()
	acc, ok := a.byID[name]
	if !ok {
		store := &secretStore{reader: a.reader, writer: a.writer, env: env,
			key: types.NamespacedName{Namespace: a.namespace, Name: name}}
		c, err := a.newClient(env, apiKey, store)
		if err != nil {
			return nil, err
		}
		if a.byID == nil {
			a.byID, a.users, a.used = map[string]*account{}, map[string]map[types.UID]bool{}, map[types.UID]string{}
		}
		acc = &account{client: c, gate: keyGate{now: a.now, first: a.backoff}}
		a.byID[name] = acc
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

// release says uid uses no account any more.
func (a *accounts) release(uid types.UID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.releaseLocked(uid)
}

func (a *accounts) releaseLocked(uid types.UID) {
	name, ok := a.used[uid]
	if !ok {
		return
	}
	delete(a.used, uid)
	delete(a.users[name], uid)
	if len(a.users[name]) == 0 {
		delete(a.users, name)
		delete(a.byID, name)
	}
}

// has says whether the account of a context Secret is kept.
func (a *accounts) has(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.byID[name]
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
	var list []bunq.CertificatePin
	err := acc.gate.do(ctx, func() (err error) {
		list, err = acc.client.ListCertificatePins(ctx)
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
		id, err = acc.client.PinCertificateChain(ctx, c.pems)
		return err
	})
	return id, err
}

// unpin removes a pin; one bunq says (signed) is gone counts as removed.
func (acc *account) unpin(ctx context.Context, id int64) error {
	err := acc.gate.do(ctx, func() error { return acc.client.UnpinCertificate(ctx, id) })
	if bunq.IsNotFound(err) {
		return nil
	}
	return err
}
