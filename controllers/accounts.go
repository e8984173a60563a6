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
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
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

// account is one API context: a client and what is known of its pins. All
// resources that use the same API key share it.
type account struct {
	client BunqClient

	mu       sync.Mutex
	pins     map[int64]string // id → fingerprint; nil until listed
	listedAt time.Time
}

// accounts holds one account per (environment, API key).
type accounts struct {
	newClient ClientFactory
	reader    client.Reader
	writer    client.Client
	namespace string

	mu   sync.Mutex
	byID map[string]*account
}

func (a *accounts) get(env bunqv1alpha1.Environment, apiKey string) (*account, error) {
	name := contextSecretName(env, apiKey)
	a.mu.Lock()
	defer a.mu.Unlock()
	if acc, ok := a.byID[name]; ok {
		return acc, nil
	}
	store := &secretStore{reader: a.reader, writer: a.writer, env: env,
		key: types.NamespacedName{Namespace: a.namespace, Name: name}}
	c, err := a.newClient(env, apiKey, store)
	if err != nil {
		return nil, err
	}
	if a.byID == nil {
		a.byID = map[string]*account{}
	}
	acc := &account{client: c}
	a.byID[name] = acc
	return acc, nil
}

// refresh makes sure the cached list of the account's pins was read from bunq
// after notBefore, listing them (⌈N/200⌉ GETs) when it was not, and returns
// when it was read. One list serves every resource on the key.
func (acc *account) refresh(ctx context.Context, notBefore, now time.Time) (time.Time, error) {
	acc.mu.Lock()
	defer acc.mu.Unlock()
	if acc.pins != nil && acc.listedAt.After(notBefore) {
		return acc.listedAt, nil
	}
	list, err := acc.client.ListCertificatePins(ctx)
	if err != nil {
		return time.Time{}, err
	}
	acc.pins = make(map[int64]string, len(list))
	for _, p := range list {
		acc.pins[p.ID] = pinnedFingerprint(p.Chain)
	}
	acc.listedAt = now
	return now, nil
}

// lookup returns the fingerprint of a pin in the cached list.
func (acc *account) lookup(id int64) (string, bool) {
	acc.mu.Lock()
	defer acc.mu.Unlock()
	fp, ok := acc.pins[id]
	return fp, ok
}

// withFingerprint returns the cached pins of a chain, newest first, leaving out
// the ones in skip.
func (acc *account) withFingerprint(fp string, skip map[int64]bool) []int64 {
	acc.mu.Lock()
	defer acc.mu.Unlock()
	var ids []int64
	for id, f := range acc.pins {
		if f == fp && !skip[id] {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b int64) int { return cmp.Compare(b, a) })
	return ids
}

// pin pins a chain and keeps the cached list current.
func (acc *account) pin(ctx context.Context, c *chain) (int64, error) {
	id, err := acc.client.PinCertificateChain(ctx, c.pems)
	if err != nil {
		return 0, err
	}
	acc.mu.Lock()
	defer acc.mu.Unlock()
	if acc.pins != nil {
		acc.pins[id] = c.fingerprint
	}
	return id, nil
}

// unpin removes a pin; one that is already gone counts as removed.
func (acc *account) unpin(ctx context.Context, id int64) error {
	err := acc.client.UnpinCertificate(ctx, id)
	if err != nil && !bunq.IsNotFound(err) {
		return err
	}
	acc.mu.Lock()
	defer acc.mu.Unlock()
	delete(acc.pins, id)
	return nil
}
