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
	"net/http"
)

// The three calls that give an API key a session, in bunq's order:
// installation, device registration, session.

func (c *Client) resetInstallation() {
	c.session.mu.Lock()
	defer c.session.mu.Unlock()
	c.session.ctx = APIContext{}
	c.session.keys = nil
	c.session.dirty = true
}

// establish creates whatever of installation, device and session is missing.
func (c *Client) establish(ctx context.Context) error {
	if c.opts.APIKey == "" {
		return ErrNoAPIKey
	}
	c.session.mu.Lock()
	installed, device := c.session.keys != nil, c.session.ctx.DeviceID != 0
	c.session.mu.Unlock()
	if !installed {
		if err := c.install(ctx); err != nil {
			return err
		}
	}
	if !device {
		if err := c.registerDevice(ctx); err != nil {
			return err
		}
	}
	return c.openSession(ctx)
}

// install creates an installation with a fresh key.
// POST /installation
func (c *Client) install(ctx context.Context) error {
	key, err := NewKey()
	if err != nil {
		return fmt.Errorf("bunq: make key: %w", err)
	}
	pub, err := PublicKeyPEM(&key.PublicKey)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]string{"client_public_key": pub})
	raw, err := c.send(ctx, request{method: http.MethodPost, path: "installation", endpoint: "installation",
		body: body, bucket: "POST installation"})
	if err != nil {
		return err
	}
	items, err := decodeResponse(raw, "installation", 3)
	if err != nil {
		return err
	}
	var token struct {
		Token string `json:"token"`
	}
	var server struct {
		Key string `json:"server_public_key"`
	}
	if err := items.field(1, "Token", &token); err != nil {
		return err
	}
	if err := items.field(2, "ServerPublicKey", &server); err != nil {
		return err
	}
	serverKey, err := ParsePublicKeyPEM(server.Key)
	if err != nil {
		return err
	}
	privatePEM, err := privateKeyPEM(key)
	if err != nil {
		return err
	}
	c.session.update(func(a *APIContext) {
		*a = APIContext{PrivateKey: privatePEM, InstallationToken: token.Token, ServerPublicKey: server.Key}
	})
	c.session.mu.Lock()
	c.session.keys = &keyPair{private: key, server: serverKey}
	c.session.mu.Unlock()
	return nil
}

func (c *Client) installation() (string, *keyPair) {
	c.session.mu.Lock()
	defer c.session.mu.Unlock()
	return c.session.ctx.InstallationToken, c.session.keys
}

// registerDevice binds the API key to this installation.
// POST /device-server
func (c *Client) registerDevice(ctx context.Context) error {
	token, keys := c.installation()
	payload := map[string]any{"description": c.opts.Description, "secret": c.opts.APIKey}
	if len(c.opts.PermittedIPs) > 0 {
		payload["permitted_ips"] = c.opts.PermittedIPs
	}
	body, _ := json.Marshal(payload)
	raw, err := c.send(ctx, request{method: http.MethodPost, path: "device-server", endpoint: "device-server",
		body: body, token: token, keys: keys, bucket: "POST device-server"})
	if err != nil {
		return err
	}
	id, err := decodeID(raw, "device-server")
	if err != nil {
		return err
	}
	c.session.update(func(a *APIContext) { a.DeviceID = id })
	return nil
}

// openSession opens a session with the installation token.
// POST /session-server
func (c *Client) openSession(ctx context.Context) error {
	token, keys := c.installation()
	body, _ := json.Marshal(map[string]string{"secret": c.opts.APIKey})
	raw, err := c.send(ctx, request{method: http.MethodPost, path: "session-server", endpoint: "session-server",
		body: body, token: token, keys: keys, bucket: bucketSessionServer})
	if err != nil {
		return err
	}
	s, err := decodeSession(raw)
	if err != nil {
		return err
	}
	expiry := c.opts.Now().Add(s.timeout)
	c.session.update(func(a *APIContext) {
		a.SessionID, a.SessionToken, a.SessionExpiry, a.UserID = s.id, s.token, expiry, s.userID
	})
	return nil
}
