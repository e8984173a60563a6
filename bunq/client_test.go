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

package bunq_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pinq-dev/bunq-pinning-operator/bunq"
	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
)

const apiKey = "sandbox_6c5b1f0e9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e"

// env is an emulator served over real HTTP under a non-root prefix, so a client
// that builds absolute URLs wrongly fails.
type env struct {
	emu    *bunqtest.Server
	url    string
	store  *bunq.MemoryStore
	client *bunq.Client
}

// unlimited lets tests that are not about rate limits run at full speed.
func unlimited() *bunq.Limiter { return bunq.NewLimiter(bunq.Limits{}, false) }

func fastBackoff() bunq.Backoff {
	return bunq.Backoff{Attempts: 4, Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond}
}

func newEnv(t *testing.T, eo bunqtest.Options, configure ...func(*bunq.Options)) *env {
	t.Helper()
	if eo.Limits == nil && !eo.DisableRateLimits && eo.TimeScale == 0 {
		eo.DisableRateLimits = true
	}
	emu, err := bunqtest.New(eo, apiKey)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/bunq/", http.StripPrefix("/bunq", emu))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e := &env{emu: emu, url: srv.URL + "/bunq/v1", store: &bunq.MemoryStore{}}
	e.client = e.newClient(t, configure...)
	return e
}

func (e *env) newClient(t *testing.T, configure ...func(*bunq.Options)) *bunq.Client {
	t.Helper()
	opts := bunq.Options{BaseURL: e.url, APIKey: apiKey, Store: e.store, Limiter: unlimited(),
		Backoff: fastBackoff(), UserAgent: "bunq-pinning-operator/test"}
	for _, c := range configure {
		c(&opts)
	}
	client, err := bunq.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func (e *env) count(method, endpoint string) int { return e.emu.Count(method, endpoint) }

// noSecrets fails when an error string carries the API key, a token or the private key.
func (e *env) noSecrets(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	if bunqtest.ContainsAny(msg, e.emu.Secrets()) || strings.Contains(msg, "PRIVATE KEY") {
		t.Errorf("error leaks a secret: %s", msg)
	}
}

// concurrently runs f n times at once and returns the first error.
func concurrently(n int, f func() error) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() { errs <- f() })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func chain(cns ...string) []string {
	out := make([]string, len(cns))
	for i, cn := range cns {
		out[i] = bunqtest.CertificatePEM(cn)
	}
	return out
}

func TestPinListReadUnpin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bunqtest.Options{})
	ctx := context.Background()
	pems := chain("hooks.example.com", "Example Intermediate")

	id, err := e.client.CreatePin(ctx, pems)
	if err != nil {
		t.Fatal(err)
	}
	pins, err := e.client.ListPins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pins) != 1 || pins[0].ID != id || pins[0].Chain != strings.Join(pems, "\n") {
		t.Fatalf("list = %+v, want the one pin %d with the chain as sent", pins, id)
	}
	got, err := e.client.GetPin(ctx, id)
	if err != nil || got.Chain != pins[0].Chain {
		t.Fatalf("get = %+v, %v", got, err)
	}
	if err := e.client.DeletePin(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.GetPin(ctx, id); !bunq.IsNotFound(err) {
		t.Fatalf("get after unpin: %v, want not found", err)
	}
	if err := e.client.DeletePin(ctx, id); !bunq.IsNotFound(err) {
		t.Fatalf("second unpin: %v, want not found", err)
	}
	for endpoint, want := range map[string]int{"installation": 1, "device-server": 1, "session-server": 1} {
		if n := e.count(http.MethodPost, endpoint); n != want {
			t.Errorf("POST %s: %d calls, want %d", endpoint, n, want)
		}
	}
	userID, _ := e.client.UserID(ctx)
	if userID != e.emu.UserID(apiKey) {
		t.Errorf("user id %d, want %d", userID, e.emu.UserID(apiKey))
	}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestHeadersAndSigning(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bunqtest.Options{RequireSignatures: true})
	if _, err := e.client.CreatePin(context.Background(), chain("a.example.com")); err != nil {
		t.Fatal(err)
	}
	for _, r := range e.emu.Requests() {
		h := r.Header
		if h.Get("User-Agent") != "bunq-pinning-operator/test" || h.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s %s: User-Agent %q, Cache-Control %q", r.Method, r.Path, h.Get("User-Agent"), h.Get("Cache-Control"))
		}
		if !uuidPattern.MatchString(h.Get("X-Bunq-Client-Request-Id")) {
			t.Errorf("%s %s: request id %q is not a UUID", r.Method, r.Path, h.Get("X-Bunq-Client-Request-Id"))
		}
		signed := h.Get("X-Bunq-Client-Signature") != ""
		if wantSigned := r.Endpoint != "installation"; signed != wantSigned {
			t.Errorf("%s %s: signed %t, want %t", r.Method, r.Path, signed, wantSigned)
		}
		if r.Status != http.StatusOK {
			t.Errorf("%s %s: status %d", r.Method, r.Path, r.Status)
		}
	}
}

func TestServerSignatureIsVerified(t *testing.T) {
	t.Parallel()
	for name, fault := range map[string]bunqtest.Fault{
		"wrong":   {Endpoint: bunqtest.EndpointPins, BadSignature: true},
		"missing": {Endpoint: bunqtest.EndpointPins, NoSignature: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, bunqtest.Options{})
			e.emu.Inject(fault)
			_, err := e.client.ListPins(context.Background())
			var se *bunq.SignatureError
			if !errors.As(err, &se) || !bunq.IsSignatureInvalid(err) {
				t.Fatalf("list with a %s server signature: %v, want a SignatureError", name, err)
			}
			_, err = e.client.CreatePin(context.Background(), chain("a.example.com"))
			if !bunq.IsSignatureInvalid(err) {
				t.Fatalf("pin with a %s server signature: %v, want a SignatureError", name, err)
			}
			e.noSecrets(t, err)
		})
	}
}

func TestRejectedRequestSignature(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bunqtest.Options{})
	e.emu.Inject(bunqtest.Fault{Endpoint: bunqtest.EndpointPins, Status: 400, Text: bunqtest.TextSignatureInvalid})
	_, err := e.client.CreatePin(context.Background(), chain("a.example.com"))
	if !bunq.IsSignatureInvalid(err) {
		t.Fatalf("got %v, want IsSignatureInvalid", err)
	}
}

// clock is a fake time shared by the client and the emulator.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time              { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration)         { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }
func newClock() *clock                       { return &clock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)} }
func withClock(c *clock) func(*bunq.Options) { return func(o *bunq.Options) { o.Now = c.Now } }

func TestSessionRenewedBeforeExpiry(t *testing.T) {
	t.Parallel()
	clk := newClock()
	e := newEnv(t, bunqtest.Options{Now: clk.Now, SessionTimeout: time.Hour}, withClock(clk))
	ctx := context.Background()
	if _, err := e.client.ListPins(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour - 20*time.Second) // inside the 30 s refresh margin
	if _, err := e.client.ListPins(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.count(http.MethodPost, "session-server"); n != 2 {
		t.Errorf("session-server called %d times, want 2 (a proactive renewal)", n)
	}
	if n := e.emu.StatusCount(http.StatusUnauthorized); n != 0 {
		t.Errorf("%d replies were 401; the renewal should come before bunq rejects the session", n)
	}
}

func TestExpiredSessionRetriedOnce(t *testing.T) {
	t.Parallel()
	for _, as403 := range []bool{false, true} {
		e := newEnv(t, bunqtest.Options{Unauthorized403: as403})
		ctx := context.Background()
		if _, err := e.client.ListPins(ctx); err != nil {
			t.Fatal(err)
		}
		e.emu.ExpireSessions()
		if _, err := e.client.ListPins(ctx); err != nil {
			t.Fatalf("403=%t: after expiry: %v", as403, err)
		}
		if n := e.count(http.MethodPost, "session-server"); n != 2 {
			t.Errorf("403=%t: session-server called %d times, want 2", as403, n)
		}
		if n := e.count(http.MethodGet, bunqtest.EndpointPins); n != 3 {
			t.Errorf("403=%t: %d GETs, want 3 (one rejected, one retried)", as403, n)
		}
	}
}

func TestUnauthorizedRetriedOnlyOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bunqtest.Options{})
	e.emu.Inject(bunqtest.Fault{Endpoint: bunqtest.EndpointPins, Status: 401, Text: bunqtest.TextUnauthorised})
	_, err := e.client.ListPins(context.Background())
	if !bunq.IsUnauthorized(err) {
		t.Fatalf("got %v, want IsUnauthorized", err)
	}
	if n := e.count(http.MethodGet, bunqtest.EndpointPins); n != 2 {
		t.Errorf("%d GETs, want 2: one new session and one retry, no more", n)
	}
	e.noSecrets(t, err)
}

func TestRejectedInstallationIsRebuilt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bunqtest.Options{})
	ctx := context.Background()
	if _, err := e.client.ListPins(ctx); err != nil {
		t.Fatal(err)
	}
	e.emu.RevokeInstallations()
	if _, err := e.client.ListPins(ctx); err != nil {
		t.Fatalf("after the installation was revoked: %v", err)
	}
	if n := e.count(http.MethodPost, "installation"); n != 2 {
		t.Errorf("%d installations, want 2", n)
	}
	// The rebuilt context was saved: a new client needs no further installation.
	if _, err := e.newClient(t).ListPins(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.count(http.MethodPost, "installation"); n != 2 {
		t.Errorf("%d installations after reload, want 2", n)
	}
}

func TestIPNotPermitted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bunqtest.Options{})
	ctx := context.Background()
	if _, err := e.client.ListPins(ctx); err != nil {
		t.Fatal(err)
	}
	e.emu.SetClientIP("203.0.113.7") // the pod's egress IP changed
	_, err := e.client.ListPins(ctx)
	if !bunq.IsIPNotPermitted(err) {
		t.Fatalf("got %v, want IsIPNotPermitted", err)
	}
	e.noSecrets(t, err)

	wildcard := newEnv(t, bunqtest.Options{}, func(o *bunq.Options) { o.PermittedIPs = []string{"*"} })
	if _, err := wildcard.client.ListPins(ctx); err != nil {
		t.Fatal(err)
	}
	wildcard.emu.SetClientIP("203.0.113.7")
	if _, err := wildcard.client.ListPins(ctx); err != nil {
		t.Fatalf("a wildcard key after an IP change: %v", err)
	}
}

func TestUnknownAPIKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bunqtest.Options{})
	client := e.newClient(t, func(o *bunq.Options) { o.APIKey = "sandbox_not_a_key_of_this_emulator"; o.Store = nil })
	_, err := client.CreatePin(context.Background(), chain("a.example.com"))
	if !bunq.IsIPNotPermitted(err) {
		t.Fatalf("got %v, want the credentials error", err)
	}
	if strings.Contains(err.Error(), "sandbox_not_a_key") {
		t.Errorf("error leaks the API key: %v", err)
	}
}

const badGateway = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"

func TestHTMLBadGateway(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bunqtest.Options{})
	ctx := context.Background()
	if _, err := e.client.UserID(ctx); err != nil {
		t.Fatal(err)
	}
	e.emu.Inject(bunqtest.Fault{Status: 502, Body: badGateway, ContentType: "text/html", NoSignature: true})
	_, err := e.client.ListPins(ctx)
	var be *bunq.Error
	if !errors.As(err, &be) || be.StatusCode != 502 || !bunq.IsUnavailable(err) {
		t.Fatalf("got %v, want a 502 *bunq.Error", err)
	}
	if !strings.Contains(err.Error(), "502 Bad Gateway") || strings.Contains(err.Error(), "<") {
		t.Errorf("error %q should summarise the page as text", err)
	}
	if n := e.count(http.MethodGet, bunqtest.EndpointPins); n != 4 {
		t.Errorf("%d GETs, want 4 (a safe call is retried)", n)
	}
	_, err = e.client.CreatePin(ctx, chain("a.example.com"))
	if !bunq.IsUnavailable(err) {
		t.Fatalf("pin: %v", err)
	}
	if n := e.count(http.MethodPost, bunqtest.EndpointPins); n != 1 {
		t.Errorf("%d POSTs, want 1: a pin is not repeated after a 5xx, it may have been made", n)
	}
}

func TestRateLimitedThenSuccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bunqtest.Options{})
	e.emu.Inject(bunqtest.Fault{Method: http.MethodPost, Endpoint: bunqtest.EndpointPins, Status: 429,
		Text: "Too many requests. You can do a maximum of 5 calls per 3 second to this endpoint.", NoSignature: true, Times: 2})
	id, err := e.client.CreatePin(context.Background(), chain("a.example.com"))
	if err != nil || id == 0 {
		t.Fatalf("pin after two 429s: %d, %v", id, err)
	}
	if n := e.count(http.MethodPost, bunqtest.EndpointPins); n != 3 {
		t.Errorf("%d POSTs, want 3", n)
	}
	if pins := e.emu.Pins(apiKey); len(pins) != 1 {
		t.Errorf("%d pins on bunq, want 1", len(pins))
	}
}

func TestRateLimitedGivesUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bunqtest.Options{})
	e.emu.Inject(bunqtest.Fault{Endpoint: bunqtest.EndpointPins, Status: 429, NoSignature: true})
	_, err := e.client.ListPins(context.Background())
	if !bunq.IsRateLimited(err) {
		t.Fatalf("got %v, want IsRateLimited", err)
	}
}

func TestConnectionResetRetriedForSafeCalls(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bunqtest.Options{})
	ctx := context.Background()
	if _, err := e.client.UserID(ctx); err != nil {
		t.Fatal(err)
	}
	e.emu.Inject(bunqtest.Fault{Endpoint: bunqtest.EndpointPins, Reset: true, Times: 1})
	if _, err := e.client.ListPins(ctx); err != nil {
		t.Fatalf("list after one reset: %v", err)
	}
	e.emu.Inject(bunqtest.Fault{Endpoint: bunqtest.EndpointPins, Reset: true, Times: 1})
	_, err := e.client.CreatePin(ctx, chain("a.example.com"))
	if !bunq.IsUnavailable(err) {
		t.Fatalf("pin through a reset: %v, want unavailable (not retried)", err)
	}
}

func TestPaginationBeyondOnePage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bunqtest.Options{})
	pem := bunqtest.CertificatePEM("a.example.com")
	for range 450 {
		e.emu.PinOutOfBand(apiKey, pem)
	}
	pins, err := e.client.ListPins(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(pins) != 450 {
		t.Fatalf("%d pins, want 450", len(pins))
	}
	for i := 1; i < len(pins); i++ {
		if pins[i].ID >= pins[i-1].ID {
			t.Fatalf("pins not newest first at %d: %d after %d", i, pins[i].ID, pins[i-1].ID)
		}
	}
	if n := e.count(http.MethodGet, bunqtest.EndpointPins); n != 3 {
		t.Errorf("%d GETs for 450 pins, want 3", n)
	}
}

func TestContextPersistedAndReloaded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bunqtest.Options{})
	ctx := context.Background()
	if _, err := e.client.CreatePin(ctx, chain("a.example.com")); err != nil {
		t.Fatal(err)
	}
	stored, err := e.store.Load(ctx)
	if err != nil || stored == nil || stored.SessionToken == "" || stored.UserID == 0 {
		t.Fatalf("stored context %v, %v", stored, err)
	}
	if s := stored.String(); bunqtest.ContainsAny(s, e.emu.Secrets()) || strings.Contains(s, "PRIVATE") {
		t.Errorf("APIContext.String leaks a secret: %s", s)
	}
	restarted := e.newClient(t)
	if _, err := restarted.CreatePin(ctx, chain("b.example.com")); err != nil {
		t.Fatal(err)
	}
	for _, endpoint := range []string{"installation", "device-server", "session-server"} {
		if n := e.count(http.MethodPost, endpoint); n != 1 {
			t.Errorf("POST %s: %d calls after reload, want 1", endpoint, n)
		}
	}
}

func TestConcurrentCallersShareOneSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bunqtest.Options{})
	if err := concurrently(20, func() error {
		_, err := e.client.ListPins(context.Background())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n := e.count(http.MethodPost, "installation") + e.count(http.MethodPost, "session-server"); n != 2 {
		t.Errorf("%d installation and session calls for 20 concurrent callers, want 2", n)
	}
}

func TestConcurrentPinsStayUnderTheLimits(t *testing.T) {
	t.Parallel()
	const scale = 20 // 5 POSTs per 150 ms
	e := newEnv(t, bunqtest.Options{TimeScale: scale}, func(o *bunq.Options) {
		o.Limiter = bunq.NewLimiter(bunq.DefaultLimits().Scaled(scale), false)
	})
	pem := bunqtest.CertificatePEM("a.example.com")
	if err := concurrently(50, func() error {
		_, err := e.client.CreatePin(context.Background(), []string{pem})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n := e.emu.StatusCount(http.StatusTooManyRequests); n != 0 {
		t.Errorf("%d replies were 429, want 0", n)
	}
	if pins := e.emu.Pins(apiKey); len(pins) != 50 {
		t.Errorf("%d pins, want 50", len(pins))
	}
}

// TestEmulatorEnforcesLimits shows the test above could fail: without the
// client's limiter the same burst earns 429s.
func TestEmulatorEnforcesLimits(t *testing.T) {
	t.Parallel()
	// Real-time windows: 20 POSTs cannot spread over 3 s however loaded the machine.
	e := newEnv(t, bunqtest.Options{TimeScale: 1}, func(o *bunq.Options) { o.Backoff.Attempts = 1 })
	pem := bunqtest.CertificatePEM("a.example.com")
	if _, err := e.client.UserID(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = concurrently(20, func() error {
		_, err := e.client.CreatePin(context.Background(), []string{pem})
		return err
	})
	if n := e.emu.StatusCount(http.StatusTooManyRequests); n == 0 {
		t.Error("an unthrottled burst of 20 POSTs earned no 429")
	}
}

func TestContextCancellation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bunqtest.Options{})
	if _, err := e.client.UserID(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.emu.Inject(bunqtest.Fault{Endpoint: bunqtest.EndpointPins, Delay: time.Second, Times: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := e.client.ListPins(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's deadline", err)
	}
}

func TestErrorCarriesResponseIDAndDescriptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bunqtest.Options{})
	_, err := e.client.GetPin(context.Background(), 99999)
	var be *bunq.Error
	if !errors.As(err, &be) {
		t.Fatalf("got %v", err)
	}
	if be.StatusCode != 404 || be.ResponseID == "" || len(be.Descriptions) != 1 || be.Method != "GET" ||
		!strings.HasSuffix(be.Path, "/certificate-pinned/99999") {
		t.Errorf("error fields: %+v", be)
	}
	if !strings.Contains(err.Error(), be.ResponseID) {
		t.Errorf("message %q lacks the response id", err)
	}
}

func TestErrorBodyEchoingASecretIsRedacted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bunqtest.Options{})
	e.emu.Inject(bunqtest.Fault{Endpoint: bunqtest.EndpointPins, Status: 400, Text: "bad secret " + apiKey})
	_, err := e.client.ListPins(context.Background())
	if err == nil || strings.Contains(err.Error(), apiKey) || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("got %v, want the key redacted", err)
	}
}

// BenchmarkPinRoundTrip measures one signed pin: request signing, the emulator's
// verification and reply signing, and the client's verification, over loopback.
func BenchmarkPinRoundTrip(b *testing.B) {
	emu, err := bunqtest.New(bunqtest.Options{DisableRateLimits: true}, apiKey)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	client, err := bunq.New(bunq.Options{BaseURL: srv.URL + "/v1", APIKey: apiKey, Limiter: unlimited()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	pems := chain("hooks.example.com", "Example Intermediate")
	if _, err := client.UserID(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := client.CreatePin(ctx, pems); err != nil {
			b.Fatal(err)
		}
	}
}

// An unsigned 401, 403 or 404 comes from something in front of bunq (a WAF, a
// proxy, a maintenance page): it must not reset the installation, drop the
// session or count as a pin already gone.
func TestUnsignedRefusalsAreUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bunqtest.Options{})
	ctx := context.Background()
	id, err := e.client.CreatePin(ctx, chain("hooks.example.com", "Example Intermediate"))
	if err != nil {
		t.Fatal(err)
	}

	e.emu.Inject(bunqtest.Fault{Method: http.MethodDelete, Status: http.StatusNotFound, NoSignature: true, Times: 4})
	err = e.client.DeletePin(ctx, id)
	if bunq.IsNotFound(err) || !bunq.IsUnavailable(err) {
		t.Fatalf("unsigned 404 on DELETE: %v; want unavailable, not not-found", err)
	}
	if pins, _ := e.client.ListPins(ctx); len(pins) != 1 {
		t.Fatalf("the pin must still be there: %+v", pins)
	}

	e.emu.Inject(bunqtest.Fault{Method: http.MethodGet, Status: http.StatusForbidden, NoSignature: true, Times: 4})
	_, err = e.client.ListPins(ctx)
	if bunq.IsUnauthorized(err) || !bunq.IsUnavailable(err) {
		t.Fatalf("unsigned 403 on GET: %v; want unavailable, not unauthorized", err)
	}

	e.emu.ExpireSessions()
	e.emu.Inject(bunqtest.Fault{Endpoint: bunqtest.EndpointSession, Status: http.StatusUnauthorized, NoSignature: true, Times: 1})
	_, err = e.client.ListPins(ctx)
	if bunq.IsUnauthorized(err) || !bunq.IsUnavailable(err) {
		t.Fatalf("unsigned 401 on session-server: %v; want unavailable", err)
	}
	if _, err := e.client.ListPins(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.count(http.MethodPost, bunqtest.EndpointInstallation); n != 1 {
		t.Errorf("%d installations, want 1: an unsigned 401 never resets the installation", n)
	}
}

// A sandbox user's key is made without any key, and works at once; bunq's
// production host has no such endpoint.
func TestCreateSandboxUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bunqtest.Options{})
	ctx := context.Background()
	keyless := e.newClient(t, func(o *bunq.Options) { o.APIKey = "" })
	key, err := keyless.CreateSandboxUser(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, bunq.SandboxKeyPrefix) || e.emu.UserID(key) == 0 {
		t.Fatalf("got %q, want a sandbox key the emulator knows", key)
	}
	c := e.newClient(t, func(o *bunq.Options) { o.APIKey, o.Store = key, &bunq.MemoryStore{} })
	if _, err := c.CreatePin(ctx, chain("hooks.example.com", "Example Intermediate")); err != nil {
		t.Fatalf("the new key does not work: %v", err)
	}

	prod := newEnv(t, bunqtest.Options{Production: true})
	if _, err := prod.newClient(t, func(o *bunq.Options) { o.APIKey = "" }).CreateSandboxUser(ctx); !bunq.IsNotFound(err) {
		t.Fatalf("production: got %v, want not found", err)
	}
}

// A refused connection never reached bunq; a reset after sending may have.
func TestIsNotSent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bunqtest.Options{})
	ctx := context.Background()
	if _, err := e.client.UserID(ctx); err != nil {
		t.Fatal(err)
	}
	e.emu.Inject(bunqtest.Fault{Method: http.MethodPost, Endpoint: bunqtest.EndpointPins, ResetAfter: true, Times: 1})
	_, err := e.client.CreatePin(ctx, chain("a.example.com", "Example Intermediate"))
	if err == nil || bunq.IsNotSent(err) {
		t.Fatalf("a reset after the call: %v; want an error that may have been carried out", err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	c := e.newClient(t, func(o *bunq.Options) { o.BaseURL = closed.URL + "/v1"; o.Store = &bunq.MemoryStore{} })
	if _, err := c.UserID(ctx); !bunq.IsNotSent(err) {
		t.Fatalf("a refused connection: %v; want IsNotSent", err)
	}
}

func TestCallbacksAcrossAccounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bunqtest.Options{})
	ctx := context.Background()
	for range 250 {
		e.emu.AddMonetaryAccount(apiKey, "MonetaryAccountSavings", "ACTIVE")
	}
	accounts, err := e.client.ListMonetaryAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(accounts) != 251 || accounts[250].Type != "MonetaryAccountBank" || accounts[0].Status != "ACTIVE" {
		t.Fatalf("%d accounts, oldest %+v", len(accounts), accounts[len(accounts)-1])
	}
	if n := e.count(http.MethodGet, bunqtest.EndpointAccounts); n != 2 {
		t.Errorf("%d GETs for 251 accounts, want 2", n)
	}
	bank := accounts[250].ID
	e.emu.SetNotificationFilters(apiKey, 0, bunqtest.NotificationFilter{Category: "MUTATION", Target: "https://hooks.example.com/a"})
	e.emu.SetNotificationFilters(apiKey, bank, bunqtest.NotificationFilter{Category: "PAYMENT", Target: "https://pay.example.com/b"},
		bunqtest.NotificationFilter{Category: "REQUEST", Target: "https://pay.example.com/c"})
	user, err := e.client.ListNotificationFilters(ctx, 0)
	if err != nil || len(user) != 1 || user[0] != (bunq.NotificationFilter{Category: "MUTATION", Target: "https://hooks.example.com/a"}) {
		t.Errorf("user filters %+v, %v", user, err)
	}
	acc, err := e.client.ListNotificationFilters(ctx, bank)
	if err != nil || len(acc) != 2 || acc[1].Target != "https://pay.example.com/c" {
		t.Errorf("account filters %+v, %v", acc, err)
	}
	if _, err := e.client.ListNotificationFilters(ctx, 1); !bunq.IsNotFound(err) {
		t.Errorf("an unknown account: %v", err)
	}
}

func TestRateBudgetSharesTheIPWithAnotherClient(t *testing.T) {
	t.Parallel()
	const scale = 30 // bunq's GET window of 3 s lasts 100 ms
	for _, tc := range []struct {
		budget float64
		want   func(int) bool
	}{
		{0.5, func(n int) bool { return n == 0 }},
		{1, func(n int) bool { return n > 0 }}, // without a budget both take the whole window
	} {
		// Only GETs are limited: both applications have their own session.
		e := newEnv(t, bunqtest.Options{TimeScale: scale, Limits: &bunq.Limits{GET: bunq.DefaultLimits().GET}})
		ours := e.newClient(t, func(o *bunq.Options) {
			o.Limiter = bunq.NewLimiter(bunq.DefaultLimits().Scaled(scale).Budget(tc.budget), false)
			o.Backoff = bunq.Backoff{Attempts: 1}
		})
		// The other application keeps to the rest of each window: 2 of bunq's 3 GETs.
		other := e.newClient(t, func(o *bunq.Options) {
			o.Store = &bunq.MemoryStore{}
			o.Limiter = bunq.NewLimiter(bunq.Limits{GET: bunq.Rate{Calls: 2, Per: 100 * time.Millisecond}}, false)
			o.Backoff = bunq.Backoff{Attempts: 1}
		})
		ctx := context.Background()
		for _, c := range []*bunq.Client{ours, other} {
			if _, err := c.UserID(ctx); err != nil {
				t.Fatal(err)
			}
		}
		e.emu.ResetCounters()
		var wg sync.WaitGroup
		for _, c := range []*bunq.Client{ours, other} {
			wg.Go(func() {
				for range 12 {
					_, _ = c.ListPins(ctx)
				}
			})
		}
		wg.Wait()
		if n := e.emu.StatusCount(http.StatusTooManyRequests); !tc.want(n) {
			t.Errorf("budget %g: %d 429s", tc.budget, n)
		}
	}
}
