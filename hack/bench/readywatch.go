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

package main

import (
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
)

// readyWatch counts the Ready resources of a namespace from a watch. Listing
// thousands of resources every second would load the API server the bench
// measures; a watch sends each change once.
type readyWatch struct {
	mu    sync.Mutex
	ready map[string]bool
	stop  context.CancelFunc
}

func (b *bench) watchReady(namespace string) *readyWatch {
	ctx, stop := context.WithCancel(b.ctx)
	rw := &readyWatch{ready: map[string]bool{}, stop: stop}
	go func() {
		for ctx.Err() == nil {
			rw.follow(ctx, b, namespace) // again from a fresh list when the watch ends
		}
	}()
	return rw
}

// follow lists the namespace once, then applies the watch's events until it ends.
func (rw *readyWatch) follow(ctx context.Context, b *bench, namespace string) {
	list := &bunqv1alpha1.BunqPinnedCertificateList{}
	if err := b.c.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return
	}
	rw.mu.Lock()
	clear(rw.ready)
	for i := range list.Items {
		rw.note(&list.Items[i])
	}
	rw.mu.Unlock()
	w, err := b.w.Watch(ctx, &bunqv1alpha1.BunqPinnedCertificateList{}, client.InNamespace(namespace),
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
	if err != nil {
		return
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		obj, ok := ev.Object.(*bunqv1alpha1.BunqPinnedCertificate)
		if !ok {
			return // an error event: list again
		}
		rw.mu.Lock()
		if ev.Type == watch.Deleted {
			delete(rw.ready, obj.Name)
		} else {
			rw.note(obj)
		}
		rw.mu.Unlock()
	}
}

func (rw *readyWatch) note(obj *bunqv1alpha1.BunqPinnedCertificate) {
	rw.ready[obj.Name] = meta.IsStatusConditionTrue(obj.Status.Conditions, bunqv1alpha1.ConditionReady)
}

// count is how many are Ready now.
func (rw *readyWatch) count() int {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	n := 0
	for _, r := range rw.ready {
		if r {
			n++
		}
	}
	return n
}

// is says whether one resource is Ready.
func (rw *readyWatch) is(name string) bool {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return rw.ready[name]
}
