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
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// APIContext is everything a client needs to talk to bunq for one API key:
// the installation, the device registration and the session. It is what the
// SDKs persist between runs. The API key itself is not part of it.
type APIContext struct {
	// PrivateKey is the client's RSA key as PKCS#8 PEM; its public half was sent at installation.
	PrivateKey        string `json:"privateKey"`
	InstallationToken string `json:"installationToken"`
	// ServerPublicKey verifies every reply after installation.
	ServerPublicKey string `json:"serverPublicKey"`
	DeviceID        int64  `json:"deviceID,omitempty"`

	SessionID     int64     `json:"sessionID,omitempty"`
	SessionToken  string    `json:"sessionToken,omitempty"`
	SessionExpiry time.Time `json:"sessionExpiry,omitzero"`
	UserID        int64     `json:"userID,omitempty"`
}

// String keeps the key and tokens out of logs and error messages.
func (c *APIContext) String() string {
	if c == nil {
		return "bunq.APIContext(nil)"
	}
	return fmt.Sprintf("bunq.APIContext{installed:%t device:%d user:%d session-expiry:%s}",
		c.InstallationToken != "", c.DeviceID, c.UserID, c.SessionExpiry.Format(time.RFC3339))
}

// GoString is String, so %#v does not print the secrets either.
func (c *APIContext) GoString() string { return c.String() }

// MarshalContext and UnmarshalContext give the stored form of a context.
func MarshalContext(c *APIContext) ([]byte, error) { return json.Marshal(c) }

// UnmarshalContext reads what MarshalContext wrote.
func UnmarshalContext(data []byte) (*APIContext, error) {
	c := &APIContext{}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("bunq: stored context is not valid JSON")
	}
	return c, nil
}

// ContextStore persists an APIContext, so a restarted process reuses its
// installation and session instead of creating new ones.
type ContextStore interface {
	// Load returns the stored context, or nil and no error when there is none.
	Load(ctx context.Context) (*APIContext, error)
	Save(ctx context.Context, c *APIContext) error
}

// MemoryStore keeps a context in memory; the zero value is empty and ready.
type MemoryStore struct {
	mu   sync.Mutex
	data []byte
}

var _ ContextStore = &MemoryStore{}

func (m *MemoryStore) Load(context.Context) (*APIContext, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		return nil, nil
	}
	return UnmarshalContext(m.data)
}

func (m *MemoryStore) Save(_ context.Context, c *APIContext) error {
	data, err := MarshalContext(c)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data = data
	return nil
}
