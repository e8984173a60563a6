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
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// secretReader reads the parts of Secrets the controller needs. The metadata
// cache tells a Secret's resourceVersion for free; the data is read live only
// when that version is new. Only the keys asked for are kept (tls.crt, ca.crt,
// the API key), and only after a size check: tls.key is never kept, and a
// huge value costs one read, not memory.
type secretReader struct {
	cache client.Reader // the manager's cache: Secrets as metadata only
	live  client.Reader

	mu   sync.Mutex
	seen map[types.NamespacedName]keptSecret
}

type keptSecret struct {
	version string
	data    map[string][]byte // the asked keys that are present and small enough
	asked   map[string]bool
	sizes   map[string]int // the asked keys too large to keep
	limit   int
}

// tooLargeError is a Secret value over the size that may be kept.
type tooLargeError struct {
	key         string
	size, limit int
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("%s is %d bytes; at most %d are accepted", e.key, e.size, e.limit)
}

// read returns the wanted keys of a Secret's data, each at most limit bytes;
// found is false when the Secret does not exist.
func (r *secretReader) read(ctx context.Context, key types.NamespacedName, limit int, keep ...string) (map[string][]byte, bool, error) {
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	err := r.cache.Get(ctx, key, meta)
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, false, err
	}
	if err == nil {
		if s, ok := r.kept(key, meta.ResourceVersion, keep); ok {
			data, err := s.pick(keep, limit)
			return data, true, err
		}
	}
	// New, changed, not yet in the cache, or asked for other keys: read it.
	secret := &corev1.Secret{}
	if err := r.live.Get(ctx, key, secret); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(key)
			return nil, false, nil
		}
		return nil, false, err
	}
	s := r.keep(key, secret, keep, limit)
	data, err := s.pick(keep, limit)
	return data, true, err
}

// pick returns the wanted keys, or the first one too large.
func (s keptSecret) pick(keep []string, limit int) (map[string][]byte, error) {
	data := map[string][]byte{}
	for _, k := range keep {
		if n, ok := s.sizes[k]; ok || len(s.data[k]) > limit {
			return nil, &tooLargeError{key: k, size: max(n, len(s.data[k])), limit: limit}
		}
		if v, ok := s.data[k]; ok {
			data[k] = v
		}
	}
	return data, nil
}

func (r *secretReader) kept(key types.NamespacedName, version string, keep []string) (keptSecret, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.seen[key]
	if !ok || s.version != version {
		return s, false
	}
	for _, k := range keep {
		if !s.asked[k] {
			return s, false
		}
	}
	return s, true
}

// keep stores the asked keys of a Secret just read, with the keys asked for
// before at the same version, so two readers of one Secret that want
// different keys both find theirs.
func (r *secretReader) keep(key types.NamespacedName, secret *corev1.Secret, keep []string, limit int) keptSecret {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[types.NamespacedName]keptSecret{}
	}
	asked := map[string]bool{}
	if old, ok := r.seen[key]; ok && old.version == secret.ResourceVersion {
		asked = old.asked
		limit = max(limit, old.limit)
	}
	for _, k := range keep {
		asked[k] = true
	}
	s := keptSecret{version: secret.ResourceVersion, data: map[string][]byte{}, asked: asked, sizes: map[string]int{}, limit: limit}
	for k := range asked {
		v, ok := secret.Data[k]
		switch {
		case !ok:
		case len(v) > limit:
			s.sizes[k] = len(v)
		default:
			s.data[k] = v
		}
	}
	r.seen[key] = s
	return s
}

func (r *secretReader) forget(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.seen, key)
}

// keys lists the kept Secrets of a namespace.
func (r *secretReader) keys(namespace string) []types.NamespacedName {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []types.NamespacedName
	for k := range r.seen {
		if k.Namespace == namespace {
			out = append(out, k)
		}
	}
	return out
}
