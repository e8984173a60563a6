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
	"crypto/rsa"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// refreshMargin is how long before its expiry a session is replaced, as the SDKs do.
const refreshMargin = 30 * time.Second

// defaultSessionTimeout is bunq's default auto-logout, used when a reply has none.
const defaultSessionTimeout = 7 * 24 * time.Hour

// keyPair signs requests and verifies replies.
type keyPair struct {
	private *rsa.PrivateKey
	server  *rsa.PublicKey
}

// sessionState is the client's API context. mu guards reads and writes; sem lets
// one caller at a time load, rebuild or refresh it while the others wait.
type sessionState struct {
	sem chan struct{}

	mu     sync.Mutex
	loaded bool
	dirty  bool // changed but not yet saved
	ctx    APIContext
	keys   *keyPair
	// The last handshake bunq refused (credentials, IP, authorisation): it
	// answers every call that started before it, so that calls in flight when
	// a key is revoked make one handshake between them, not one each.
	refusedAt  time.Time
	refusedErr error
}

func (s *sessionState) refusedSince(since time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refusedErr != nil && !s.refusedAt.Before(since) {
		return s.refusedErr
	}
	return nil
}

func (s *sessionState) init() { s.sem = make(chan struct{}, 1) }

func (s *sessionState) tokens() (installation, session string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ctx.InstallationToken, s.ctx.SessionToken
}

// session is what one call needs.
type session struct {
	token  string
	userID int64
	keys   *keyPair
}

func (s *sessionState) current(now time.Time) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ok := s.loaded && !s.dirty && s.liveLocked(now)
	return session{token: s.ctx.SessionToken, userID: s.ctx.UserID, keys: s.keys}, ok
}

// liveLocked says whether the stored session is usable at now, with a margin
// before it expires. Call it with mu held.
func (s *sessionState) liveLocked(now time.Time) bool {
	return s.ctx.SessionToken != "" && now.Before(s.ctx.SessionExpiry.Add(-refreshMargin))
}

func (s *sessionState) update(f func(c *APIContext)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.ctx)
	s.dirty = true
}

// ensureSession returns a live session, making one if needed. Concurrent callers
// wait for a single refresh instead of each opening a session; a refusal made
// after since (when the caller's call started) is the caller's answer too.
func (c *Client) ensureSession(ctx context.Context, since time.Time) (session, error) {
	if s, ok := c.session.current(c.opts.Now()); ok {
		return s, nil
	}
	if err := c.session.refusedSince(since); err != nil {
		return session{}, err
	}
	select {
	case c.session.sem <- struct{}{}:
	case <-ctx.Done():
		return session{}, ctx.Err()
	}
	defer func() { <-c.session.sem }()
	if s, ok := c.session.current(c.opts.Now()); ok {
		return s, nil
	}
	if err := c.session.refusedSince(since); err != nil {
		return session{}, err
	}
	if err := c.refresh(ctx); err != nil {
		if IsKeyRefused(err) {
			c.session.mu.Lock()
			c.session.refusedAt, c.session.refusedErr = c.opts.Now(), err
			c.session.mu.Unlock()
		}
		return session{}, err
	}
	s, _ := c.session.current(c.opts.Now())
	return s, nil
}

// invalidate drops a session bunq rejected, unless another caller already replaced it.
func (c *Client) invalidate(token string) {
	c.session.mu.Lock()
	defer c.session.mu.Unlock()
	if c.session.ctx.SessionToken == token {
		c.session.ctx.SessionToken = ""
	}
}

// refresh loads the stored context and brings it to a live session, rebuilding
// the installation once when bunq rejects its token. Called with sem held.
func (c *Client) refresh(ctx context.Context) error {
	if err := c.load(ctx); err != nil {
		return err
	}
	if !c.hasLiveSession() {
		err := c.establish(ctx)
		if IsUnauthorized(err) {
			c.resetInstallation()
			err = c.establish(ctx)
		}
		if err != nil {
			return err
		}
	}
	return c.save(ctx)
}

func (c *Client) hasLiveSession() bool {
	c.session.mu.Lock()
	defer c.session.mu.Unlock()
	return c.session.liveLocked(c.opts.Now())
}

func (c *Client) load(ctx context.Context) error {
	c.session.mu.Lock()
	loaded := c.session.loaded
	c.session.mu.Unlock()
	if loaded {
		return nil
	}
	stored, err := c.opts.Store.Load(ctx)
	if err != nil {
		return fmt.Errorf("bunq: load API context: %w", err)
	}
	keys, err := parseKeys(stored)
	if err != nil {
		// A damaged context is replaced by a fresh installation.
		stored, keys = nil, nil
	}
	c.session.mu.Lock()
	defer c.session.mu.Unlock()
	c.session.loaded = true
	if stored != nil {
		c.session.ctx, c.session.keys = *stored, keys
	}
	return nil
}

func parseKeys(stored *APIContext) (*keyPair, error) {
	if stored == nil || stored.InstallationToken == "" {
		return nil, errors.New("no installation")
	}
	private, err := parsePrivateKeyPEM(stored.PrivateKey)
	if err != nil {
		return nil, err
	}
	server, err := ParsePublicKeyPEM(stored.ServerPublicKey)
	if err != nil {
		return nil, err
	}
	return &keyPair{private: private, server: server}, nil
}

func (c *Client) save(ctx context.Context) error {
	c.session.mu.Lock()
	if !c.session.dirty {
		c.session.mu.Unlock()
		return nil
	}
	snapshot := c.session.ctx
	c.session.mu.Unlock()
	if err := c.opts.Store.Save(ctx, &snapshot); err != nil {
		return fmt.Errorf("bunq: save API context: %w", err)
	}
	c.session.mu.Lock()
	defer c.session.mu.Unlock()
	if c.session.ctx == snapshot {
		c.session.dirty = false
	}
	return nil
}

// call makes a session call. {userID} in path is the session's user. A rejected
// session is replaced once and the call repeated.
func (c *Client) call(ctx context.Context, method, path, endpoint string, body []byte) ([]byte, error) {
	start := c.opts.Now()
	for retried := false; ; retried = true {
		s, err := c.ensureSession(ctx, start)
		if err != nil {
			return nil, err
		}
		p := strings.ReplaceAll(path, "{userID}", strconv.FormatInt(s.userID, 10))
		raw, err := c.send(ctx, request{method: method, path: p, endpoint: endpoint, body: body,
			token: s.token, keys: s.keys, bucket: method})
		if IsUnauthorized(err) && !retried {
			c.invalidate(s.token)
			continue
		}
		return raw, err
	}
}

// HasSession says whether a call can go now without opening a session: the
// stored context is loaded and its session is live. It makes no call.
func (c *Client) HasSession() bool {
	_, ok := c.session.current(c.opts.Now())
	return ok
}

// UserID returns the bunq user the API key acts for, opening a session if needed.
func (c *Client) UserID(ctx context.Context) (int64, error) {
	s, err := c.ensureSession(ctx, c.opts.Now())
	return s.userID, err
}
