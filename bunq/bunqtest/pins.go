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
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The certificate-pinned endpoints: create, list (paginated), read, delete.

// ownUser admits calls on /user/{userID}/... by that user's session.
func (s *Server) ownUser(c call) (*session, reply, bool) {
	sess, rep, ok := s.sessionAuth(c)
	if !ok {
		return nil, rep, false
	}
	if c.args[0] != sess.key.userID {
		return nil, errorReply(http.StatusNotFound, TextNotFound), false
	}
	return sess, reply{}, true
}

// POST /v1/user/{userID}/certificate-pinned
func (s *Server) createPin(c call) reply {
	sess, rep, ok := s.ownUser(c)
	if !ok {
		return rep
	}
	var in struct {
		Chain []struct {
			Certificate string `json:"certificate"`
		} `json:"certificate_chain"`
	}
	if !decode(c.body, &in) || len(in.Chain) == 0 {
		return errorReply(http.StatusBadRequest, "The certificate chain is missing.")
	}
	pems := make([]string, len(in.Chain))
	for i, cert := range in.Chain {
		if !isCertificatePEM(cert.Certificate) {
			return errorReply(http.StatusBadRequest, "The certificate chain is not valid.")
		}
		pems[i] = cert.Certificate
	}
	return idReply(s.addPin(sess.key.userID, pems))
}

func (s *Server) addPin(userID int64, pems []string) int64 {
	p := &pin{id: s.newID(), userID: userID, chain: strings.Join(pems, "\n")}
	s.pins[p.id] = p
	return p.id
}

// isCertificatePEM accepts one PEM CERTIFICATE block and nothing else.
func isCertificatePEM(s string) bool {
	block, rest := pem.Decode([]byte(s))
	return block != nil && block.Type == "CERTIFICATE" && strings.TrimSpace(string(rest)) == ""
}

func pinObject(p *pin) object {
	return object{"CertificatePinned": object{"id": p.id, "certificate_chain": p.chain}}
}

// GET /v1/user/{userID}/certificate-pinned: newest first, paginated.
func (s *Server) listPins(c call) reply {
	if _, rep, ok := s.ownUser(c); !ok {
		return rep
	}
	q := c.r.URL.Query()
	count, err := pageCount(q)
	if err != nil {
		return errorReply(http.StatusBadRequest, err.Error())
	}
	all := s.userPins(c.args[0])
	page := pageOf(all, q, count)
	items := make([]object, len(page))
	for i, p := range page {
		items[i] = pinObject(p)
	}
	links := pageLinks(c.r.URL.Path, q, all, page, count)
	return okReply(items, func(env map[string]any) { env["Pagination"] = links })
}

func pageCount(q url.Values) (int, error) {
	if q.Get("count") == "" {
		return 10, nil
	}
	n, err := strconv.Atoi(q.Get("count"))
	if err != nil || n < 1 || n > 200 {
		return 0, fmt.Errorf("The count must be between 1 and 200.")
	}
	return n, nil
}

// userPins returns a user's pins, newest (highest id) first.
func (s *Server) userPins(userID int64) []*pin {
	var out []*pin
	for _, p := range s.pins {
		if p.userID == userID {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *pin) int { return cmp.Compare(b.id, a.id) })
	return out
}

// pageOf picks the page: older than older_id, newer than newer_id, or the newest.
func pageOf(all []*pin, q url.Values, count int) []*pin {
	if older, err := strconv.ParseInt(q.Get("older_id"), 10, 64); err == nil {
		i := 0
		for i < len(all) && all[i].id >= older {
			i++
		}
		return all[i:min(i+count, len(all))]
	}
	if newer, err := strconv.ParseInt(q.Get("newer_id"), 10, 64); err == nil {
		end := 0
		for end < len(all) && all[end].id > newer {
			end++
		}
		return all[max(0, end-count):end]
	}
	return all[:min(count, len(all))]
}

func pageLinks(path string, q url.Values, all, page []*pin, count int) object {
	link := func(key string, id int64) string {
		v := url.Values{}
		if q.Get("count") != "" {
			v.Set("count", strconv.Itoa(count))
		}
		v.Set(key, strconv.FormatInt(id, 10))
		return path + "?" + v.Encode()
	}
	links := object{"future_url": nil, "newer_url": nil, "older_url": nil}
	if len(page) == 0 {
		return links
	}
	newest, oldest := page[0].id, page[len(page)-1].id
	if all[len(all)-1].id < oldest {
		links["older_url"] = link("older_id", oldest)
	}
	if all[0].id > newest {
		links["newer_url"] = link("newer_id", newest)
	} else {
		links["future_url"] = link("newer_id", newest)
	}
	return links
}

// ownPin admits calls on /user/{userID}/certificate-pinned/{id} of that user's pins.
func (s *Server) ownPin(c call) (*pin, reply, bool) {
	if _, rep, ok := s.ownUser(c); !ok {
		return nil, rep, false
	}
	p := s.pins[c.args[1]]
	if p == nil || p.userID != c.args[0] {
		return nil, errorReply(http.StatusNotFound, TextNotFound), false
	}
	return p, reply{}, true
}

// GET /v1/user/{userID}/certificate-pinned/{id}
func (s *Server) readPin(c call) reply {
	p, rep, ok := s.ownPin(c)
	if !ok {
		return rep
	}
	return okReply([]object{pinObject(p)})
}

// DELETE /v1/user/{userID}/certificate-pinned/{id}
func (s *Server) deletePin(c call) reply {
	p, rep, ok := s.ownPin(c)
	if !ok {
		return rep
	}
	delete(s.pins, p.id)
	return okReply([]object{})
}
