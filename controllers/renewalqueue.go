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

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// priorityChangedSecret is the workqueue priority of the resources naming a
// Secret that changed: a renewal (or a new key) goes before the thousands of
// first pins a cold start or a new tenant queues, as its bunq calls go first
// in the limiter (design.md Behaviour 8). Passes a resource asks for itself
// keep the priority they had.
const priorityChangedSecret = 10

// changedSecretsFirst enqueues the resources of a changed Secret at
// priorityChangedSecret; creations, deletions and unchanged updates (a
// resync) as inner does.
type changedSecretsFirst struct {
	handler.EventHandler
}

func (h changedSecretsFirst) Update(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if pq, ok := q.(priorityqueue.PriorityQueue[reconcile.Request]); ok && changed(e.ObjectOld, e.ObjectNew) {
		q = atPriority{PriorityQueue: pq, priority: priorityChangedSecret}
	}
	h.EventHandler.Update(ctx, e, q)
}

func changed(old, cur client.Object) bool {
	return old == nil || cur == nil || old.GetResourceVersion() != cur.GetResourceVersion()
}

// atPriority adds at a given priority unless the adder names one.
type atPriority struct {
	priorityqueue.PriorityQueue[reconcile.Request]
	priority int
}

func (q atPriority) Add(item reconcile.Request) {
	q.AddWithOpts(priorityqueue.AddOpts{}, item)
}

func (q atPriority) AddWithOpts(o priorityqueue.AddOpts, items ...reconcile.Request) {
	if o.Priority == nil {
		o.Priority = &q.priority
	}
	q.PriorityQueue.AddWithOpts(o, items...)
}
