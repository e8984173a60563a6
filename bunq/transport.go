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
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"time"
)

// One call to bunq on the wire: signing, rate limits, retries, reply checks
// and redaction.

// request is one call to bunq.
type request struct {
	method   string
	path     string // relative to the base URL, with query
	endpoint string // path template, for metrics and errors
	body     []byte
	token    string   // X-Bunq-Client-Authentication; empty before installation
	keys     *keyPair // signs the request and verifies the reply; nil before installation
	bucket   string   // limiter bucket: the method, "POST <handshake endpoint>", or session-server

	signature string // X-Bunq-Client-Signature, made once before the first attempt
}

// send makes the call with retries and returns the body of a verified 200 reply.
// The body is signed before any rate-limit slot is taken, so a slot is held
// only for the exchange itself.
func (c *Client) send(ctx context.Context, r request) ([]byte, error) {
	var err error
	if r.keys != nil {
		if r.signature, err = Sign(r.keys.private, r.body); err != nil {
			return nil, fmt.Errorf("bunq: sign request: %w", err)
		}
	}
	for attempt := 0; attempt < c.opts.Backoff.Attempts; attempt++ {
		if attempt > 0 {
			if werr := sleep(ctx, c.backoff(attempt)); werr != nil {
				return nil, errors.Join(err, werr)
			}
		}
		var body []byte
		body, err = c.attempt(ctx, r)
		if err == nil || !retryable(r.method, err) {
			return body, err
		}
	}
	return nil, err
}

// retryable says whether a failed call may be repeated: a 429 was not processed;
// 5xx and network errors are retried only for calls that are safe to repeat,
// or when the connection was never made.
func retryable(method string, err error) bool {
	e, ok := asError(err)
	if !ok {
		return false
	}
	if e.StatusCode == http.StatusTooManyRequests {
		return true
	}
	if !IsUnavailable(err) {
		return false
	}
	return method == http.MethodGet || method == http.MethodDelete || IsNotSent(err)
}

// backoff is full-jitter exponential: a random wait up to Initial·2^(n-1), capped at Max.
func (c *Client) backoff(attempt int) time.Duration {
	ceiling := c.opts.Backoff.Initial << (attempt - 1)
	if ceiling <= 0 || ceiling > c.opts.Backoff.Max {
		ceiling = c.opts.Backoff.Max
	}
	n, err := rand.Int(rand.Reader, big.NewInt(int64(ceiling)/2+1))
	if err != nil {
		return ceiling
	}
	// Half fixed, half random: never a near-zero wait after a 429.
	return ceiling/2 + time.Duration(n.Int64())
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// attempt makes one HTTP exchange under the rate limiter.
func (c *Client) attempt(ctx context.Context, r request) ([]byte, error) {
	release, err := c.opts.Limiter.acquire(ctx, c.host, r.bucket)
	if err != nil {
		return nil, &Error{Method: r.method, Path: stripQuery(r.path), Err: err}
	}
	start := time.Now()
	status, header, body, err := c.exchange(ctx, r)
	release()
	if status == http.StatusTooManyRequests {
		c.opts.Limiter.throttled(c.host, r.bucket) // another client behind this IP spent the window
	}
	if c.opts.Observe != nil {
		c.opts.Observe(CallInfo{Method: r.method, Endpoint: r.endpoint, StatusCode: status, Duration: time.Since(start)})
	}
	if err != nil {
		return nil, &Error{Method: r.method, Path: stripQuery(r.path), Err: c.redactErr(err)}
	}
	return c.check(r, status, header, body)
}

func (c *Client) exchange(ctx context.Context, r request) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.method, c.base.String()+"/"+r.path, bytes.NewReader(r.body))
	if err != nil {
		return 0, nil, nil, err
	}
	c.setHeaders(req, r)
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	limit := int64(maxReplyBytes)
	if resp.StatusCode != http.StatusOK {
		limit = maxErrorBytes
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return 0, nil, nil, err
	}
	if int64(len(body)) > limit {
		return 0, nil, nil, fmt.Errorf("reply %d is larger than %d bytes", resp.StatusCode, limit)
	}
	return resp.StatusCode, resp.Header, body, nil
}

func (c *Client) setHeaders(req *http.Request, r request) {
	h := req.Header
	h.Set("Cache-Control", "no-cache")
	h.Set("User-Agent", c.opts.UserAgent)
	h.Set("X-Bunq-Language", "en_US")
	h.Set("X-Bunq-Region", "nl_NL")
	h.Set("X-Bunq-Geolocation", "0 0 0 0 000")
	h.Set("X-Bunq-Client-Request-Id", NewUUID())
	h.Set("Content-Type", "application/json")
	if r.token != "" {
		h.Set("X-Bunq-Client-Authentication", r.token)
	}
	if r.signature != "" {
		h.Set("X-Bunq-Client-Signature", r.signature)
	}
}

// check turns a reply into its body or an error. Every reply after installation
// must carry a valid server signature; a 200 without one is never trusted. Error
// replies are checked when signed (bunq does not sign a 429).
func (c *Client) check(r request, status int, header http.Header, body []byte) ([]byte, error) {
	responseID := header.Get("X-Bunq-Client-Response-Id")
	if r.keys != nil && r.keys.server != nil {
		sig := header.Get("X-Bunq-Server-Signature")
		if status == http.StatusOK || sig != "" {
			if err := Verify(r.keys.server, body, sig); err != nil {
				return nil, &SignatureError{Method: r.method, Path: stripQuery(r.path), StatusCode: status,
					ResponseID: responseID, Reason: err.Error()}
			}
		}
	}
	if status == http.StatusOK {
		return body, nil
	}
	e := newReplyError(r.method, stripQuery(r.path), status, responseID, header.Get("Content-Type"), body)
	for i, d := range e.Descriptions {
		e.Descriptions[i] = c.redact(d)
	}
	e.Unsigned = r.keys != nil && r.keys.server != nil && header.Get("X-Bunq-Server-Signature") == "" &&
		unsignedMeansElsewhere(status)
	return nil, e
}

// unsignedMeansElsewhere says which statuses, unsigned, come from something
// between the operator and bunq: trusting them would reset an installation or
// take a pin for removed.
func unsignedMeansElsewhere(status int) bool {
	return status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusNotFound
}

// redact removes the API key and tokens from text that came from elsewhere.
func (c *Client) redact(s string) string {
	for _, secret := range c.secrets() {
		if len(secret) >= 8 {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

func (c *Client) redactErr(err error) error {
	msg := err.Error()
	if red := c.redact(msg); red != msg {
		return errors.New(red)
	}
	return err
}

func (c *Client) secrets() []string {
	installation, session := c.session.tokens()
	return []string{c.opts.APIKey, installation, session}
}

func stripQuery(path string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		return path[:i]
	}
	return path
}
