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

package controllers

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"time"
)

// The TLS probe of a callback endpoint: a handshake that reads the chain the
// endpoint serves. No HTTP request is sent, and the chain is not verified: it
// is compared with what is pinned, which is the check bunq makes.

// Defaults of the probe.
const (
	probeTimeout            = 5 * time.Second
	defaultProbeConcurrency = 16
)

// Dialer opens a connection to a callback endpoint; tests route names to loopback.
type Dialer func(ctx context.Context, network, address string) (net.Conn, error)

// served is what an endpoint served: its leaf's fingerprint and serial, or why
// it could not be read.
type served struct {
	fingerprint string
	serial      string
	err         error
}

// prober probes endpoints with a bound on how many handshakes run at once,
// shared by every resource.
type prober struct {
	dial  Dialer
	slots chan struct{}
}

func newProber(dial Dialer, concurrency int) *prober {
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	if concurrency <= 0 {
		concurrency = defaultProbeConcurrency
	}
	return &prober{dial: dial, slots: make(chan struct{}, concurrency)}
}

// probe reads the leaf served at address for the TLS server name host.
func (pr *prober) probe(ctx context.Context, host, address string) served {
	select {
	case pr.slots <- struct{}{}:
	case <-ctx.Done():
		return served{err: ctx.Err()}
	}
	defer func() { <-pr.slots }()
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	conn, err := pr.dial(ctx, "tcp", address)
	if err != nil {
		return served{err: err}
	}
	defer conn.Close()
	// Verification is off on purpose: the served leaf is compared with the
	// pinned ones, whoever issued it. Nothing is sent after the handshake.
	tc := tls.Client(conn, &tls.Config{ServerName: host, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) //nolint:gosec
	if err := tc.HandshakeContext(ctx); err != nil {
		return served{err: err}
	}
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return served{err: errors.New("the endpoint presented no certificate")}
	}
	return served{fingerprint: leafFingerprint(certs[0]), serial: certs[0].SerialNumber.Text(16)}
}

// probeError is a short, stable text for status: the dial target and cause,
// without Go's wrapping.
func probeError(err error) string {
	var nerr net.Error
	switch {
	case errors.As(err, &nerr) && nerr.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return "no TLS handshake within " + probeTimeout.String()
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "dial ") {
		return "cannot connect: " + msg[i+2:]
	}
	return msg
}
