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

// Package bunq is a client for the parts of the bunq API that pin certificate
// chains for callbacks: installation, device registration, sessions and
// /user/{userID}/certificate-pinned. It imports only the standard library.
package bunq

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Limits on reply bodies: a page of 200 pinned chains fits easily in the first.
const (
	maxReplyBytes = 16 << 20
	maxErrorBytes = 64 << 10
)

// Backoff says how calls are retried after 429, 5xx and network errors.
type Backoff struct {
	// Attempts is the number of tries in all, the first one included.
	Attempts int
	Initial  time.Duration
	Max      time.Duration
}

// ErrNoAPIKey says a client without an API key needed a new session.
var ErrNoAPIKey = errors.New("bunq: no API key to open a session with (its Secret is gone), and the stored session has expired")

// DefaultTimeout bounds each HTTP attempt unless Options.Timeout says otherwise.
// A call that timed out may still be carried out by bunq up to this long after
// it was sent.
const DefaultTimeout = 30 * time.Second

// DefaultBackoff tries four times over about ten seconds.
func DefaultBackoff() Backoff {
	return Backoff{Attempts: 4, Initial: 500 * time.Millisecond, Max: 8 * time.Second}
}

// CallInfo describes one HTTP exchange with bunq, for metrics.
type CallInfo struct {
	Method string
	// Endpoint is the path template, such as "user/{userID}/certificate-pinned/{id}".
	Endpoint   string
	StatusCode int // 0 when no reply arrived
	Duration   time.Duration
}

// Options configure a Client. BaseURL is required.
type Options struct {
	// BaseURL is bunq's API root including /v1, such as https://api.bunq.com/v1.
	BaseURL string
	// APIKey is the bunq API key. It is sent at device registration and session
	// opening only, and never appears in an error. Without one the client works
	// with the stored session while it lives, and cannot open another
	// (ErrNoAPIKey): enough to clean up after the key's Secret was deleted.
	APIKey string
	// Description names the device registration; defaults to "bunq-pinning-operator".
	Description string
	// PermittedIPs are sent at device registration; empty binds the key to the caller's IP.
	PermittedIPs []string
	// Store persists the API context; defaults to memory.
	Store ContextStore
	// HTTPClient defaults to a client with http.DefaultTransport.
	HTTPClient *http.Client
	// Limiter defaults to SharedLimiter().
	Limiter *Limiter
	// UserAgent defaults to "bunq-pinning-operator/dev".
	UserAgent string
	// Timeout bounds each HTTP attempt; defaults to DefaultTimeout.
	Timeout time.Duration
	// Backoff defaults to DefaultBackoff().
	Backoff Backoff
	// Observe, when set, is called after every HTTP exchange.
	Observe func(CallInfo)
	// Now is the clock; defaults to time.Now.
	Now func() time.Time
}

var (
	sharedLimiterOnce sync.Once
	sharedLimiter     *Limiter
)

// SharedLimiter is the process-wide limiter at bunq's published limits, started full.
func SharedLimiter() *Limiter {
	sharedLimiterOnce.Do(func() { sharedLimiter = NewLimiter(DefaultLimits(), true) })
	return sharedLimiter
}

// Client talks to bunq with one API key. It is safe for concurrent use; all
// callers share one session.
type Client struct {
	opts    Options
	base    *url.URL
	host    string
	session sessionState
}

// New makes a Client. It makes no call: the installation, device and session
// are created or loaded from the store on first use.
func New(opts Options) (*Client, error) {
	base, err := url.Parse(strings.TrimSuffix(opts.BaseURL, "/"))
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("bunq: base URL %q is not an absolute URL", opts.BaseURL)
	}
	if opts.Description == "" {
		opts.Description = "bunq-pinning-operator"
	}
	if opts.Store == nil {
		opts.Store = &MemoryStore{}
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.Limiter == nil {
		opts.Limiter = SharedLimiter()
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "bunq-pinning-operator/dev"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Backoff.Attempts <= 0 {
		opts.Backoff = DefaultBackoff()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Client{opts: opts, base: base, host: base.Host}
	c.session.init()
	return c, nil
}

// NewUUID returns a random (version 4) UUID, as bunq's request and response ids are.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
