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

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// secretReader reads the parts of Secrets the controller needs. The metadata
// cache tells a Secret's resourceVersion for free; the data is read live only
// when that version is new, and only the public parts (tls.crt, ca.crt) and
// the API key are kept. tls.key is never kept.
type secretReader struct {
	cache client.Reader // the manager's cache: Secrets as metadata only
	live  client.Reader

	mu   sync.Mutex
	seen map[types.NamespacedName]keptSecret
}

type keptSecret struct {
	version string
	data    map[string][]byte
}

// read returns the wanted keys of a Secret's data; found is false when it does not exist.
func (r *secretReader) read(ctx context.Context, key types.NamespacedName, keep ...string) (map[string][]byte, bool, error) {
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	err := r.cache.Get(ctx, key, meta)
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, false, err
	}
	if err == nil {
		if data, ok := r.kept(key, meta.ResourceVersion); ok {
			return data, true, nil
		}
	}
	// New, changed, or not yet in the cache: read it.
	secret := &corev1.Secret{}
	if err := r.live.Get(ctx, key, secret); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(key)
			return nil, false, nil
		}
		return nil, false, err
	}
	data := map[string][]byte{}
	for _, k := range keep {
		if v, ok := secret.Data[k]; ok {
			data[k] = v
		}
	}
	r.keep(key, secret.ResourceVersion, data)
	return data, true, nil
}

func (r *secretReader) kept(key types.NamespacedName, version string) (map[string][]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.seen[key]
	return s.data, ok && s.version == version
}

func (r *secretReader) keep(key types.NamespacedName, version string, data map[string][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[types.NamespacedName]keptSecret{}
	}
	r.seen[key] = keptSecret{version: version, data: data}
}

func (r *secretReader) forget(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.seen, key)
}
