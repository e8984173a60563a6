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
	"crypto/rsa"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

// Texts of bunq's error replies.
const (
	TextUnauthorised         = "Insufficient authorisation."
	TextUnauthenticated      = "Insufficient authentication."
	TextCredentialsIncorrect = "User credentials are incorrect. Incorrect API key or IP address."
	TextSignatureInvalid     = "The request signature is invalid."
	TextSignatureRequired    = "For this operation a request signature is required. Check the urls for more information."
	TextNotFound             = "Resource not found."
	TextBadRequest           = "The request could not be understood."
)

// Options configure a Server. The zero value is bunq with real time and limits.
type Options struct {
	// TimeScale speeds time up: 10 makes rate-limit windows and session timeouts ten times shorter.
	TimeScale float64
	// SessionTimeout is the users' auto-logout; defaults to bunq's one week (before scaling).
	SessionTimeout time.Duration
	// Limits defaults to bunq's published limits; DisableRateLimits turns them off.
	Limits            *bunq.Limits
	DisableRateLimits bool
	// Unauthorized403 answers a bad session with 403 "Insufficient authentication."
	// instead of 401 "Insufficient authorisation."; bunq hosts have been seen doing both.
	Unauthorized403 bool
	// RequireSignatures demands a request signature on every call after installation;
	// bunq itself demands one on session-server only and checks it elsewhere when present.
	RequireSignatures bool
	// Production makes the emulator bunq's production host, which has no
	// sandbox-user-person endpoint.
	Production bool
	// Log, when set, receives one line per call.
	Log func(line string)
	// Now is the clock; defaults to time.Now.
	Now func() time.Time
}

// Server is the emulator. Create it with New and serve it with httptest or http.Server.
type Server struct {
	opts      Options
	limits    bunq.Limits
	serverKey *rsa.PrivateKey
	serverPEM string

	mu            sync.Mutex
	nextID        int64
	keys          map[string]*apiKey
	installations map[string]*installation
	sessions      map[string]*session
	pins          map[int64]*pin
	users         map[int64]*bunqUser
	windows       map[string][]time.Time
	faults        []*Fault
	fired         map[string]int // by Fault.Label
	counts        map[string]int
	requests      []Request
	clientIP      string
	issued        []string // every token handed out, for leak checks
}

// UserOptions describe the bunq user behind an API key.
type UserOptions struct {
	// Type is "UserPerson" (default), "UserCompany" or "UserApiKey".
	Type string
}

type apiKey struct {
	secret   string
	userID   int64
	userType string
	bound    bool
	wildcard bool
	ips      map[string]bool
	revoked  bool // deleted in the app: refused like an unknown key
}

type installation struct {
	id      int64
	token   string
	pub     *rsa.PublicKey
	revoked bool
	devices map[string]bool // API keys registered through this installation
}

type session struct {
	id     int64
	token  string
	key    *apiKey
	inst   *installation
	expiry time.Time
}

type pin struct {
	id     int64
	userID int64
	chain  string
}

// Request is a call the emulator received.
type Request struct {
	Time     time.Time
	Method   string
	Path     string // as received, with query
	Endpoint string // template, such as "user/{userID}/certificate-pinned"
	Header   http.Header
	Body     []byte
	ClientIP string
	Status   int
	// Duration is how long the emulator took to carry the call out (delays included).
	Duration time.Duration
}

// New makes an emulator that accepts the given API keys, each a UserPerson.
func New(opts Options, apiKeys ...string) (*Server, error) {
	key, err := bunq.NewKey()
	if err != nil {
		return nil, err
	}
	pemKey, err := bunq.PublicKeyPEM(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	if opts.TimeScale <= 0 {
		opts.TimeScale = 1
	}
	if opts.SessionTimeout <= 0 {
		opts.SessionTimeout = 7 * 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	limits := bunq.DefaultLimits()
	if opts.Limits != nil {
		limits = *opts.Limits
	}
	s := &Server{
		opts: opts, limits: limits.Scaled(opts.TimeScale), serverKey: key, serverPEM: pemKey,
		nextID: firstID(), keys: map[string]*apiKey{}, installations: map[string]*installation{},
		sessions: map[string]*session{}, pins: map[int64]*pin{}, users: map[int64]*bunqUser{}, windows: map[string][]time.Time{},
		counts: map[string]int{},
		fired:  map[string]int{},
	}
	for _, k := range apiKeys {
		s.AddAPIKey(k, UserOptions{})
	}
	return s, nil
}

// AddAPIKey makes an API key valid, for a new user of the given type.
func (s *Server) AddAPIKey(secret string, u UserOptions) {
	if u.Type == "" {
		u.Type = "UserPerson"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[secret] = &apiKey{secret: secret, userID: s.newUser(), userType: u.Type, ips: map[string]bool{}}
}

// firstID starts ids at a random point, as bunq's ids are global: two
// emulators in one test never hand out the same user or pin id.
func firstID() int64 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return 1_000_000 + int64(b[0])<<24 + int64(b[1])<<16 + int64(b[2])<<8 + int64(b[3])
}

func (s *Server) newID() int64 {
	s.nextID++
	return s.nextID
}

func (s *Server) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) / s.opts.TimeScale)
}

// reply is what a handler answers.
type reply struct {
	status int
	body   []byte
}

// ServeHTTP answers one bunq call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.opts.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return
	}
	ip := s.ip(r)
	route := match(r.Method, r.URL.Path)
	req := Request{Time: start, Method: r.Method, Path: r.URL.RequestURI(), Endpoint: route.endpoint,
		Header: r.Header.Clone(), Body: body, ClientIP: ip}

	index, fault := s.record(req)
	if fault != nil && fault.Delay > 0 {
		time.Sleep(fault.Delay) // not cut short by the client: the call commits late
	}
	var rep reply
	switch {
	case fault != nil && fault.Reset:
		s.finish(index, req, 0, start)
		reset(w)
		return
	case fault != nil && fault.Status != 0:
		rep = faultReply(fault)
	default:
		rep = s.handle(r, route, body, ip)
	}
	if fault != nil && fault.ResetAfter {
		s.finish(index, req, rep.status, start) // carried out, though the client never hears of it
		reset(w)
		return
	}
	s.finish(index, req, rep.status, start)
	if fault != nil && fault.HoldReply > 0 && !s.sleep(r, fault.HoldReply) {
		return
	}
	s.write(w, r, rep, fault)
}

func (s *Server) sleep(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.Context().Done():
		return false
	case <-t.C:
		return true
	}
}

// handle runs the rate limit and the endpoint's handler under the lock.
func (s *Server) handle(r *http.Request, route route, body []byte, ip string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	if route.handler == nil {
		if route.endpoint == "" {
			return errorReply(http.StatusNotFound, TextNotFound)
		}
		return errorReply(http.StatusMethodNotAllowed, "Method not allowed.")
	}
	if rep, limited := s.rateLimit(ip, r.Method, route.endpoint); limited {
		return rep
	}
	return route.handler(s, call{r: r, body: body, ip: ip, args: route.args})
}
