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
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

// Fault changes how the emulator answers matching calls.
type Fault struct {
	// Method and Endpoint select calls; empty matches any. Endpoint is a template
	// such as EndpointPins.
	Method   string
	Endpoint string
	// Status answers with this status and a bunq error body (Text, or the
	// status text), instead of handling the call.
	Status int
	Text   string
	// Body and ContentType replace the error body, to imitate a proxy's HTML page.
	Body        string
	ContentType string
	// Reset closes the connection without a reply; ResetAfter does so after
	// the call was carried out, as when a reply is lost on its way back.
	Reset      bool
	ResetAfter bool
	// Delay holds the call this long before anything else happens; the call is
	// then carried out even if the client has given up, as a server that has
	// read a request does (a late commit). HoldReply carries the call out and
	// then holds the reply this long.
	Delay     time.Duration
	HoldReply time.Duration
	// BadSignature and NoSignature spoil the server signature of the reply.
	BadSignature bool
	NoSignature  bool
	// Times is how many calls the fault fires for; 0 means no limit.
	Times int
	// Rate is the chance a matching call is hit; 0 means every one.
	Rate float64
	// Label names the fault in FaultCounts.
	Label string
}

// Inject adds a fault; the first fault that fires for a call applies.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// Writes counts the pins and unpins carried out (answered 2xx, or carried
// out and then cut off by ResetAfter).
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		write := r.Method == http.MethodPost && r.Endpoint == EndpointPins ||
			r.Method == http.MethodDelete && r.Endpoint == EndpointPin
		if write && r.Status >= 200 && r.Status < 300 {
			n++
		}
	}
	return n
}

// FaultCounts says how often each labelled fault fired.
func (s *Server) FaultCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.fired)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// record logs and counts a call and picks the fault that fires for it.
func (s *Server) record(req Request) (int, *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
	s.counts[req.Method+" "+req.Endpoint]++
	for i, f := range s.faults {
		if f.Method != "" && f.Method != req.Method || f.Endpoint != "" && f.Endpoint != req.Endpoint {
			continue
		}
		if f.Rate > 0 && rand.Float64() >= f.Rate {
			continue
		}
		fired := *f
		if f.Label != "" {
			s.fired[f.Label]++
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return len(s.requests) - 1, &fired
	}
	return len(s.requests) - 1, nil
}

func faultReply(f *Fault) reply {
	if f.Body != "" {
		return reply{status: f.Status, body: []byte(f.Body)}
	}
	text := f.Text
	if text == "" {
		text = http.StatusText(f.Status)
	}
	return errorReply(f.Status, text)
}

// rateLimit applies bunq's rolling windows per client IP, method and endpoint.
// Refused calls do not count against the window.
func (s *Server) rateLimit(ip, method, endpoint string) (reply, bool) {
	if s.opts.DisableRateLimits {
		return reply{}, false
	}
	rate := s.rate(method, endpoint)
	if rate.Calls <= 0 {
		return reply{}, false
	}
	key := ip + " " + method + " " + endpoint
	now := s.opts.Now()
	window := s.windows[key]
	for len(window) > 0 && now.Sub(window[0]) >= rate.Per {
		window = window[1:]
	}
	if len(window) >= rate.Calls {
		s.windows[key] = window
		seconds := int(float64(rate.Per)*s.opts.TimeScale/float64(time.Second) + 0.5)
		return errorReply(http.StatusTooManyRequests, fmt.Sprintf(
			"Too many requests. You can do a maximum of %d calls per %d second to this endpoint.", rate.Calls, seconds)), true
	}
	s.windows[key] = append(window, now)
	return reply{}, false
}

func (s *Server) rate(method, endpoint string) bunq.Rate {
	if endpoint == EndpointSession {
		return s.limits.SessionServer
	}
	switch method {
	case http.MethodGet:
		return s.limits.GET
	case http.MethodPost:
		return s.limits.POST
	case http.MethodPut:
		return s.limits.PUT
	case http.MethodDelete:
		return s.limits.DELETE
	}
	return bunq.Rate{}
}
