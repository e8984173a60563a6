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

// Package bunqtest is a bunq API emulator for tests: an http.Handler that speaks
// the protocol of installations, devices, sessions and certificate pinning as
// bunq does (signatures both ways, token roles, IP binding, error bodies, rate
// limits), with hooks to inject faults and to inspect what it received.
package bunqtest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

// What goes on the wire: replies with bunq's headers and signature, the
// caller's IP, tokens and timestamps in bunq's formats.

// write sends a reply. Every reply but a 429 carries a server signature over
// its body, as bunq's do.
func (s *Server) write(w http.ResponseWriter, r *http.Request, rep reply, fault *Fault) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if fault != nil && fault.ContentType != "" {
		h.Set("Content-Type", fault.ContentType)
	}
	if id := r.Header.Get("X-Bunq-Client-Request-Id"); id != "" {
		h.Set("X-Bunq-Client-Request-Id", id)
	}
	h.Set("X-Bunq-Client-Response-Id", bunq.NewUUID())
	if sig := s.signature(rep, fault); sig != "" {
		h.Set("X-Bunq-Server-Signature", sig)
	}
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

func (s *Server) signature(rep reply, fault *Fault) string {
	if rep.status == http.StatusTooManyRequests || fault != nil && fault.NoSignature {
		return ""
	}
	signed := rep.body
	if fault != nil && fault.BadSignature {
		signed = append([]byte("tampered:"), rep.body...)
	}
	sig, err := bunq.Sign(s.serverKey, signed)
	if err != nil {
		return ""
	}
	return sig
}

// reset closes the connection without a reply.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

func (s *Server) ip(r *http.Request) string {
	s.mu.Lock()
	override := s.clientIP
	s.mu.Unlock()
	if override != "" {
		return override
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) finish(index int, req Request, status int, start time.Time) {
	s.mu.Lock()
	s.requests[index].Status = status
	s.requests[index].Duration = s.opts.Now().Sub(start)
	s.mu.Unlock()
	if s.opts.Log != nil {
		s.opts.Log(fmt.Sprintf("%s %s %s -> %d in %s", req.ClientIP, req.Method, req.Path, status,
			s.opts.Now().Sub(start).Round(time.Microsecond)))
	}
}

func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05.000000")
}

// split cuts "/v1/a/b" into ["a","b"]; ok is false without the /v1/ prefix.
func split(path string) ([]string, bool) {
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok {
		return nil, false
	}
	return strings.Split(strings.TrimSuffix(rest, "/"), "/"), true
}
