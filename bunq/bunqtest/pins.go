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
	"net/http"
	"slices"
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
	pins := s.userPins(c.args[0])
	byID := make(map[int64]*pin, len(pins))
	ids := make([]int64, len(pins))
	for i, p := range pins {
		byID[p.id], ids[i] = p, p.id
	}
	return listReply(c, ids, func(id int64) object { return pinObject(byID[id]) })
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
