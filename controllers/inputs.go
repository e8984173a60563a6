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

	"k8s.io/apimachinery/pkg/types"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
)

// What a pass reads of the resource's Secrets: the TLS chain and the API key.

// loadSecret reads the keys wanted of a Secret in the resource's namespace,
// each at most limit bytes; missing says which reason a missing Secret is
// reported with.
func (p *pass) loadSecret(ctx context.Context, name, missing string, limit int, keep ...string) (map[string][]byte, error) {
	data, found, err := p.r.secrets.read(ctx, types.NamespacedName{Namespace: p.obj.Namespace, Name: name}, limit, keep...)
	if !found && err == nil {
		return nil, &reasonError{reason: missing, msg: "Secret " + p.obj.Namespace + "/" + name + " does not exist"}
	}
	return data, err
}

// loadTLS reads tls.crt and ca.crt of the resource's TLS Secret.
func (p *pass) loadTLS(ctx context.Context) (map[string][]byte, error) {
	data, err := p.loadSecret(ctx, p.obj.Spec.SecretName, bunqv1alpha1.ReasonSecretNotFound, maxChainBytes, "tls.crt", "ca.crt")
	var tl *tooLargeError
	if errors.As(err, &tl) {
		return nil, invalid("%s is %d bytes; a served chain is at most %d", tl.key, tl.size, tl.limit)
	}
	return data, err
}

// account returns the API context of the resource's key; the key is never
// stored in a resource or logged.
func (p *pass) account(ctx context.Context) (*account, error) {
	ref := p.obj.Spec.APIKeySecretRef
	key := ref.Key
	if key == "" {
		key = defaultAPIKeyKey
	}
	secret := p.obj.Namespace + "/" + ref.Name
	if err := checkAPIKeyRef(secret, key); err != nil {
		return nil, err
	}
	data, err := p.loadSecret(ctx, ref.Name, bunqv1alpha1.ReasonAPIKeyNotFound, maxAPIKeyValueBytes, key)
	var tl *tooLargeError
	if errors.As(err, &tl) {
		return nil, tooLongAPIKey(secret, key)
	}
	if err != nil {
		return nil, err
	}
	apiKey, err := apiKeyFrom(secret, key, data[key])
	if err != nil {
		return nil, err
	}
	acc, err := p.r.accounts.get(p.obj.UID, p.obj.Spec.Environment, apiKey)
	if err != nil {
		return nil, err
	}
	return acc, acc.remember(ctx, p.obj.UID)
}
