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
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

// Data keys of a context Secret: the API context, and the UIDs of the
// resources that use it, one a line. Only the operator writes either: a
// resource whose API key Secret is gone is matched to its context through the
// second, never through its spec or status, which a tenant may edit.
const (
	contextKeyData       = "context"
	contextResourcesData = "resources"
)

// Labels of a context Secret.
const (
	labelManagedBy   = "app.kubernetes.io/managed-by"
	labelEnvironment = "bunq.pinq.dev/environment"
	managedBy        = "bunq-pinning-operator"
)

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
	data, err := s.read(ctx, contextKeyData)
	if err != nil || data == nil {
		return nil, err
	}
	return bunq.UnmarshalContext(data)
}

func (s *secretStore) Save(ctx context.Context, c *bunq.APIContext) error {
	data, err := bunq.MarshalContext(c)
	if err != nil {
		return err
	}
	return s.write(ctx, contextKeyData, data)
}

// read returns one data key of the Secret; nil when the Secret or key is missing.
func (s *secretStore) read(ctx context.Context, key string) ([]byte, error) {
	secret := &corev1.Secret{}
	err := s.reader.Get(ctx, s.key, secret)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return secret.Data[key], nil
}

// write sets one data key with a merge patch, leaving the other one as it
// is, and creates the Secret when it is missing.
func (s *secretStore) write(ctx context.Context, key string, value []byte) error {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s.key.Name, Namespace: s.key.Namespace,
		Labels: map[string]string{labelManagedBy: managedBy, labelEnvironment: string(s.env)}},
		Type: corev1.SecretTypeOpaque, Data: map[string][]byte{key: value}}
	err := s.writer.Patch(ctx, secret.DeepCopy(), client.Merge)
	if apierrors.IsNotFound(err) {
		err = s.writer.Create(ctx, secret.DeepCopy())
	}
	if apierrors.IsAlreadyExists(err) {
		// The other key's writer created it first (the client saving the
		// context, or a resource recording itself): patch it after all.
		err = s.writer.Patch(ctx, secret.DeepCopy(), client.Merge)
	}
	if err != nil {
		return fmt.Errorf("store %s in Secret %s: %w", key, s.key, err)
	}
	return nil
}

// users reads the UIDs of the resources recorded as using the context.
func (s *secretStore) users(ctx context.Context) (map[types.UID]bool, error) {
	data, err := s.read(ctx, contextResourcesData)
	if err != nil {
		return nil, err
	}
	return parseUsers(data), nil
}

func parseUsers(data []byte) map[types.UID]bool {
	users := map[types.UID]bool{}
	for _, line := range strings.Fields(string(data)) {
		users[types.UID(line)] = true
	}
	return users
}

func (s *secretStore) saveUsers(ctx context.Context, users map[types.UID]bool) error {
	lines := make([]string, 0, len(users))
	for uid := range users {
		lines = append(lines, string(uid))
	}
	slices.Sort(lines)
	return s.write(ctx, contextResourcesData, []byte(strings.Join(lines, "\n")))
}

// storedContexts lists the context Secrets that record uid as a user, with the
// bunq user their stored session acts for.
func storedContexts(ctx context.Context, reader client.Reader, namespace string, uid types.UID) ([]storedContext, error) {
	list := &corev1.SecretList{}
	if err := reader.List(ctx, list, client.InNamespace(namespace), client.MatchingLabels{labelManagedBy: managedBy}); err != nil {
		return nil, err
	}
	var out []storedContext
	for _, secret := range list.Items {
		if !parseUsers(secret.Data[contextResourcesData])[uid] {
			continue
		}
		c, err := bunq.UnmarshalContext(secret.Data[contextKeyData])
		if err != nil {
			continue
		}
		out = append(out, storedContext{name: secret.Name, env: bunqv1alpha1.Environment(secret.Labels[labelEnvironment]), userID: c.UserID})
	}
	return out, nil
}

// storedContext is a context Secret found by one of its users.
type storedContext struct {
	name   string
	env    bunqv1alpha1.Environment
	userID int64
}
