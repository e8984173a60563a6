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

package bunqtest

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
)

// AdminPin is a pin as the admin endpoint lists it.
type AdminPin struct {
	ID     int64  `json:"id"`
	UserID int64  `json:"user_id"`
	Chain  string `json:"certificate_chain"`
}

// AdminHandler serves what black-box tests need to see of the emulator from
// outside its process, under /_emulator/: GET pins (every user's, newest
// first), GET counts (calls per "METHOD endpoint") and GET statuses (replies
// per HTTP status), and POST users/{id}/expire-sessions (as bunq's
// auto-logout ends that user's sessions). It holds no secrets.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_emulator/pins", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		pins := make([]AdminPin, 0, len(s.pins))
		for _, p := range s.pins {
			pins = append(pins, AdminPin{ID: p.id, UserID: p.userID, Chain: p.chain})
		}
		s.mu.Unlock()
		slices.SortFunc(pins, func(a, b AdminPin) int { return cmp.Compare(b.ID, a.ID) })
		writeJSON(w, pins)
	})
	mux.HandleFunc("GET /_emulator/counts", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, s.Counts())
	})
	mux.HandleFunc("GET /_emulator/statuses", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, s.Statuses())
	})
	mux.HandleFunc("POST /_emulator/users/{id}/expire-sessions", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			http.Error(w, "user id: "+err.Error(), http.StatusBadRequest)
			return
		}
		s.ExpireUserSessions(id)
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
