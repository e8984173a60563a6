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
	"encoding/json"
	"net/http"
	"time"

	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

// sessionExtension caps how far a call near the end of a session pushes its expiry.
const (
	sessionExtendWindow = 30 * time.Second
	sessionExtendMax    = 5 * time.Minute
)

type object map[string]any

func okReply(response []object, extra ...func(map[string]any)) reply {
	env := map[string]any{"Response": response}
	for _, f := range extra {
		f(env)
	}
	body, _ := json.Marshal(env)
	return reply{status: http.StatusOK, body: body}
}

func idReply(id int64) reply {
	return okReply([]object{{"Id": object{"id": id}}})
}

func errorReply(status int, text string, extra ...object) reply {
	entry := object{"error_description": text, "error_description_translated": text}
	for _, e := range extra {
		for k, v := range e {
			entry[k] = v
		}
	}
	body, _ := json.Marshal(map[string]any{"Error": []object{entry}})
	return reply{status: status, body: body}
}

func (s *Server) unauthorised() reply {
	if s.opts.Unauthorized403 {
		return errorReply(http.StatusForbidden, TextUnauthenticated)
	}
	return errorReply(http.StatusUnauthorized, TextUnauthorised)
}

func credentialsIncorrect() reply { return errorReply(http.StatusBadRequest, TextCredentialsIncorrect) }

// checkSignature verifies X-Bunq-Client-Signature over the body. A missing one
// is an error where required; a wrong one always is.
func (s *Server) checkSignature(c call, inst *installation, required bool) (reply, bool) {
	sig := c.r.Header.Get("X-Bunq-Client-Signature")
	if sig == "" {
		if required || s.opts.RequireSignatures {
			return errorReply(bunq.StatusSignatureRequired, TextSignatureRequired,
				object{"error_additional_parameter": []object{{"url_together_post": "https://together.bunq.com/d/15399"}}}), false
		}
		return reply{}, true
	}
	if bunq.Verify(inst.pub, c.body, sig) != nil {
		return errorReply(http.StatusBadRequest, TextSignatureInvalid), false
	}
	return reply{}, true
}

// installationAuth admits calls that must use the installation token.
func (s *Server) installationAuth(c call, signatureRequired bool) (*installation, reply, bool) {
	inst := s.installations[c.r.Header.Get("X-Bunq-Client-Authentication")]
	if inst == nil || inst.revoked {
		return nil, s.unauthorised(), false
	}
	if rep, ok := s.checkSignature(c, inst, signatureRequired); !ok {
		return nil, rep, false
	}
	return inst, reply{}, true
}

// sessionAuth admits calls that must use a live session token from a permitted IP.
func (s *Server) sessionAuth(c call) (*session, reply, bool) {
	sess := s.sessions[c.r.Header.Get("X-Bunq-Client-Authentication")]
	now := s.opts.Now()
	if sess == nil || sess.inst.revoked || sess.key.revoked {
		return nil, s.unauthorised(), false
	}
	if !now.Before(sess.expiry) {
		delete(s.sessions, sess.token)
		return nil, s.unauthorised(), false
	}
	if !sess.key.permits(c.ip) {
		return nil, credentialsIncorrect(), false
	}
	if rep, ok := s.checkSignature(c, sess.inst, false); !ok {
		return nil, rep, false
	}
	if left := sess.expiry.Sub(now); left <= s.scaled(sessionExtendWindow) {
		sess.expiry = now.Add(min(s.scaled(s.opts.SessionTimeout), s.scaled(sessionExtendMax)))
	}
	return sess, reply{}, true
}

func (k *apiKey) permits(ip string) bool {
	return !k.revoked && (!k.bound || k.wildcard || k.ips[ip])
}

func decode(body []byte, into any) bool {
	return json.Unmarshal(body, into) == nil
}

// POST /v1/installation: no token, no signature; positional Id, Token, ServerPublicKey.
func (s *Server) installation(c call) reply {
	var in struct {
		Key string `json:"client_public_key"`
	}
	if !decode(c.body, &in) {
		return errorReply(http.StatusBadRequest, TextBadRequest)
	}
	pub, err := bunq.ParsePublicKeyPEM(in.Key)
	if err != nil || pub.N.BitLen() != 2048 {
		return errorReply(http.StatusBadRequest, "The public key is not a valid 2048 bit RSA key.")
	}
	inst := &installation{id: s.newID(), token: newToken(), pub: pub, devices: map[string]bool{}}
	s.installations[inst.token] = inst
	s.issued = append(s.issued, inst.token)
	now := timestamp(s.opts.Now())
	return okReply([]object{
		{"Id": object{"id": inst.id}},
		{"Token": object{"id": s.newID(), "created": now, "updated": now, "token": inst.token}},
		{"ServerPublicKey": object{"server_public_key": s.serverPEM}},
	})
}

// POST /v1/device-server: binds an API key to IPs on first use.
func (s *Server) deviceServer(c call) reply {
	inst, rep, ok := s.installationAuth(c, false)
	if !ok {
		return rep
	}
	var in struct {
		Description  string   `json:"description"`
		Secret       string   `json:"secret"`
		PermittedIPs []string `json:"permitted_ips"`
	}
	if !decode(c.body, &in) || in.Description == "" {
		return errorReply(http.StatusBadRequest, TextBadRequest)
	}
	key := s.keys[in.Secret]
	if key == nil || !key.permits(c.ip) {
		return credentialsIncorrect()
	}
	bind(key, in.PermittedIPs, c.ip)
	inst.devices[key.secret] = true
	return idReply(s.newID())
}

// bind records the IPs a key may be used from: the permitted ones, or the caller's.
func bind(key *apiKey, permitted []string, caller string) {
	if len(permitted) == 0 && !key.bound {
		permitted = []string{caller}
	}
	key.bound = true
	for _, ip := range permitted {
		if ip == "*" {
			key.wildcard = true
			continue
		}
		key.ips[ip] = true
	}
}

// POST /v1/session-server: signature mandatory; positional Id, Token, user.
func (s *Server) sessionServer(c call) reply {
	inst, rep, ok := s.installationAuth(c, true)
	if !ok {
		return rep
	}
	var in struct {
		Secret string `json:"secret"`
	}
	if !decode(c.body, &in) {
		return errorReply(http.StatusBadRequest, TextBadRequest)
	}
	key := s.keys[in.Secret]
	if key == nil || !inst.devices[key.secret] || !key.permits(c.ip) {
		return credentialsIncorrect()
	}
	id := s.newID()
	sess := &session{id: id, token: newToken(), key: key, inst: inst, expiry: s.opts.Now().Add(s.scaled(s.opts.SessionTimeout))}
	s.sessions[sess.token] = sess
	s.issued = append(s.issued, sess.token)
	now := timestamp(s.opts.Now())
	return okReply([]object{
		{"Id": object{"id": id}},
		{"Token": object{"id": id, "created": now, "updated": now, "token": sess.token}},
		s.user(key, now),
	})
}

// user is the third entry of a session reply.
func (s *Server) user(key *apiKey, now string) object {
	timeout := int64(s.opts.SessionTimeout / time.Second)
	person := object{"id": key.userID, "created": now, "updated": now, "display_name": "Emulated User",
		"public_nick_name": "Emulated", "session_timeout": timeout}
	if key.userType != "UserApiKey" {
		return object{key.userType: person}
	}
	requester := object{"id": key.userID + 1, "session_timeout": timeout, "display_name": "Emulated Owner"}
	return object{"UserApiKey": object{"id": key.userID, "created": now, "updated": now,
		"requested_by_user": object{"UserPerson": requester},
		"granted_by_user":   object{"UserPerson": requester}}}
}

// DELETE /v1/session/{id}: ends the calling session whatever the id.
func (s *Server) endSession(c call) reply {
	sess, rep, ok := s.sessionAuth(c)
	if !ok {
		return rep
	}
	delete(s.sessions, sess.token)
	return okReply([]object{})
}

// POST /v1/sandbox-user-person: the sandbox only, no authentication; a new
// UserPerson and its API key.
func (s *Server) sandboxUser(c call) reply {
	if s.opts.Production {
		return errorReply(http.StatusNotFound, TextNotFound)
	}
	key := "sandbox_" + newToken()
	s.keys[key] = &apiKey{secret: key, userID: s.newUser(), userType: "UserPerson", ips: map[string]bool{}}
	return okReply([]object{{"ApiKey": object{"api_key": key}}})
}
