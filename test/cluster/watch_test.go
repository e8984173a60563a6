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

package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// watcher checks, again and again while the steps run, that every pin a
// status names as current is on bunq: whenever a user could look, not only
// at the end. A pin counts as lost when it is missing from bunq both just
// before and just after the status naming it was read.
type watcher struct {
	n     *node
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	reads int
	lost  map[string]bool
}

func (n *node) watch() *watcher {
	w := &watcher{n: n, stop: make(chan struct{}), done: make(chan struct{}), lost: map[string]bool{}}
	go w.run()
	return w
}

func (w *watcher) run() {
	defer close(w.done)
	for {
		select {
		case <-w.stop:
			return
		case <-time.After(50 * time.Millisecond):
		}
		before, err := w.pinIDs()
		if err != nil {
			continue
		}
		out, err := w.n.run("get", "bpc", "-A", "-o", "json")
		if err != nil {
			continue // the API server is busy
		}
		after, err := w.pinIDs()
		if err != nil {
			continue
		}
		var list struct {
			Items []struct {
				Metadata struct {
					Namespace, Name   string
					DeletionTimestamp *string
				}
				Status struct {
					PinnedCertificateID int64
				}
			}
		}
		if json.Unmarshal([]byte(out), &list) != nil {
			continue
		}
		w.mu.Lock()
		w.reads++
		for _, obj := range list.Items {
			id := obj.Status.PinnedCertificateID
			if id != 0 && obj.Metadata.DeletionTimestamp == nil && !before[id] && !after[id] {
				w.lost[fmt.Sprintf("%s/%s id %d", obj.Metadata.Namespace, obj.Metadata.Name, id)] = true
			}
		}
		w.mu.Unlock()
	}
}

func (w *watcher) pinIDs() (map[int64]bool, error) {
	pins, err := w.n.c.BunqPins(context.Background())
	ids := map[int64]bool{}
	for _, p := range pins {
		ids[p.ID] = true
	}
	return ids, err
}

// finish stops the watcher and fails the test for each pin lost while referenced.
func (w *watcher) finish() {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n.t.Logf("watcher: %d reads of every status against bunq", w.reads)
	for l := range w.lost {
		w.n.t.Errorf("a status named a pin bunq did not hold: %s", l)
	}
}
