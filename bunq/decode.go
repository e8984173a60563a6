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

package bunq

import (
	"encoding/json"
	"fmt"
	"time"
)

// DecodeError says a 200 reply did not have the shape bunq documents.
type DecodeError struct {
	Endpoint string
	Reason   string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("bunq: unexpected %s reply: %s", e.Endpoint, e.Reason)
}

// items is the Response array: single-key objects named after their type.
type items []map[string]json.RawMessage

// pagination is the Pagination object of a listing.
type pagination struct {
	FutureURL *string `json:"future_url"`
	NewerURL  *string `json:"newer_url"`
	OlderURL  *string `json:"older_url"`
}

type envelope struct {
	Response   items       `json:"Response"`
	Pagination *pagination `json:"Pagination"`
}

func decodeEnvelope(raw []byte, endpoint string) (*envelope, error) {
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, &DecodeError{Endpoint: endpoint, Reason: "not JSON: " + err.Error()}
	}
	if env.Response == nil {
		return nil, &DecodeError{Endpoint: endpoint, Reason: "no Response array"}
	}
	return &env, nil
}

// decodeResponse reads a reply whose entries are read by position, as bunq's SDKs do.
func decodeResponse(raw []byte, endpoint string, want int) (items, error) {
	env, err := decodeEnvelope(raw, endpoint)
	if err != nil {
		return nil, err
	}
	if len(env.Response) < want {
		return nil, &DecodeError{Endpoint: endpoint, Reason: fmt.Sprintf("%d entries in Response, want %d", len(env.Response), want)}
	}
	return env.Response, nil
}

// field decodes entry i, which must be an object named name.
func (it items) field(i int, name string, into any) error {
	raw, ok := it[i][name]
	if !ok {
		return &DecodeError{Endpoint: name, Reason: fmt.Sprintf("entry %d is not %s", i, name)}
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return &DecodeError{Endpoint: name, Reason: err.Error()}
	}
	return nil
}

// decodeID reads the reply of a create: [{"Id":{"id":N}}].
func decodeID(raw []byte, endpoint string) (int64, error) {
	it, err := decodeResponse(raw, endpoint, 1)
	if err != nil {
		return 0, err
	}
	var id struct {
		ID int64 `json:"id"`
	}
	if err := it.field(0, "Id", &id); err != nil {
		return 0, err
	}
	return id.ID, nil
}

// userTypes are the objects a session reply may name its user with.
var userTypes = []string{"UserPerson", "UserCompany", "UserApiKey", "UserPaymentServiceProvider"}

type user struct {
	ID             int64                      `json:"id"`
	SessionTimeout int64                      `json:"session_timeout"`
	RequestedBy    map[string]json.RawMessage `json:"requested_by_user"`
}

type sessionReply struct {
	id      int64
	token   string
	userID  int64
	timeout time.Duration
}

// decodeSession reads [{"Id"},{"Token"},{"<UserType>"}]. For a UserApiKey the
// timeout is that of the user who requested the key.
func decodeSession(raw []byte) (sessionReply, error) {
	it, err := decodeResponse(raw, "session-server", 3)
	if err != nil {
		return sessionReply{}, err
	}
	var id struct {
		ID int64 `json:"id"`
	}
	var token struct {
		Token string `json:"token"`
	}
	if err := it.field(0, "Id", &id); err != nil {
		return sessionReply{}, err
	}
	if err := it.field(1, "Token", &token); err != nil {
		return sessionReply{}, err
	}
	if token.Token == "" {
		return sessionReply{}, &DecodeError{Endpoint: "session-server", Reason: "empty session token"}
	}
	u, kind, err := decodeUser(it[2])
	if err != nil {
		return sessionReply{}, err
	}
	timeout := u.SessionTimeout
	if kind == "UserApiKey" {
		if requester, _, err := decodeUser(u.RequestedBy); err == nil {
			timeout = requester.SessionTimeout
		}
	}
	d := time.Duration(timeout) * time.Second
	if timeout <= 0 {
		d = defaultSessionTimeout
	}
	return sessionReply{id: id.ID, token: token.Token, userID: u.ID, timeout: d}, nil
}

func decodeUser(entry map[string]json.RawMessage) (user, string, error) {
	for _, kind := range userTypes {
		raw, ok := entry[kind]
		if !ok {
			continue
		}
		var u user
		if err := json.Unmarshal(raw, &u); err != nil {
			return user{}, kind, &DecodeError{Endpoint: "session-server", Reason: err.Error()}
		}
		return u, kind, nil
	}
	return user{}, "", &DecodeError{Endpoint: "session-server", Reason: "could not determine user"}
}
