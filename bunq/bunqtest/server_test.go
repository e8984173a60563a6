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

package bunqtest_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pinq-dev/bunq-pinning-operator/bunq"
	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
)

const key = "sandbox_emulator_test_key_0123456789abcdef0123456789abcdef"

// raw speaks to the emulator by hand, so each rule can be broken on purpose.
type raw struct {
	t       *testing.T
	url     string
	emu     *bunqtest.Server
	key     *rsa.PrivateKey
	server  *rsa.PublicKey
	install string
	session string
	userID  int64
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("body %q is not JSON: %v", r.body, err)
	}
	return out
}

func (r resp) errorText(t *testing.T) string {
	t.Helper()
	errs, ok := r.json(t)["Error"].([]any)
	if !ok || len(errs) == 0 {
		t.Fatalf("status %d without an Error array: %s", r.status, r.body)
	}
	e := errs[0].(map[string]any)
	if e["error_description"] != e["error_description_translated"] {
		t.Errorf("translated description differs: %v", e)
	}
	return e["error_description"].(string)
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

func newRaw(t *testing.T, opts bunqtest.Options) *raw {
	t.Helper()
	emu, err := bunqtest.New(opts, key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	k, err := bunq.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return &raw{t: t, url: srv.URL + "/v1/", emu: emu, key: k}
}

// do sends a call; sign is "good", "none" or "bad".
func (r *raw) do(method, path, token, sign string, body any) resp {
	r.t.Helper()
	var data []byte
	if body != nil {
		data, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(method, r.url+path, bytes.NewReader(data))
	req.Header.Set("User-Agent", "raw-test")
	req.Header.Set("X-Bunq-Client-Request-Id", "req-1")
	if token != "" {
		req.Header.Set("X-Bunq-Client-Authentication", token)
	}
	switch sign {
	case "good":
		sig, _ := bunq.Sign(r.key, data)
		req.Header.Set("X-Bunq-Client-Signature", sig)
	case "bad":
		sig, _ := bunq.Sign(r.key, append(data, ' '))
		req.Header.Set("X-Bunq-Client-Signature", sig)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, body: b}
	if res.Header.Get("X-Bunq-Client-Response-Id") == "" {
		r.t.Errorf("%s %s: no X-Bunq-Client-Response-Id", method, path)
	}
	if res.Header.Get("Content-Type") != "application/json" {
		r.t.Errorf("%s %s: Content-Type %q", method, path, res.Header.Get("Content-Type"))
	}
	if r.server != nil && res.StatusCode != http.StatusTooManyRequests {
		if err := bunq.Verify(r.server, b, res.Header.Get("X-Bunq-Server-Signature")); err != nil {
			r.t.Errorf("%s %s: %d reply fails its server signature: %v", method, path, res.StatusCode, err)
		}
	}
	return out
}

func entry(t *testing.T, body map[string]any, i int, name string) map[string]any {
	t.Helper()
	list, _ := body["Response"].([]any)
	if len(list) <= i {
		t.Fatalf("Response has %d entries, want more than %d: %v", len(list), i, body)
	}
	obj, ok := list[i].(map[string]any)[name].(map[string]any)
	if !ok {
		t.Fatalf("Response[%d] is not %s: %v", i, name, list[i])
	}
	return obj
}

func (r *raw) installation() {
	r.t.Helper()
	pub, _ := bunq.PublicKeyPEM(&r.key.PublicKey)
	res := r.do("POST", "installation", "", "none", map[string]string{"client_public_key": pub})
	if res.status != 200 {
		r.t.Fatalf("installation: %d %s", res.status, res.body)
	}
	body := res.json(r.t)
	entry(r.t, body, 0, "Id")
	r.install = entry(r.t, body, 1, "Token")["token"].(string)
	server, err := bunq.ParsePublicKeyPEM(entry(r.t, body, 2, "ServerPublicKey")["server_public_key"].(string))
	if err != nil {
		r.t.Fatal(err)
	}
	r.server = server
	if len(r.install) != 64 {
		r.t.Errorf("installation token %d chars, want 64 hex", len(r.install))
	}
}

func (r *raw) device(ips ...string) resp {
	body := map[string]any{"description": "test", "secret": key}
	if len(ips) > 0 {
		body["permitted_ips"] = ips
	}
	return r.do("POST", "device-server", r.install, "good", body)
}

func (r *raw) open() resp {
	r.t.Helper()
	res := r.do("POST", "session-server", r.install, "good", map[string]string{"secret": key})
	if res.status == 200 {
		body := res.json(r.t)
		r.session = entry(r.t, body, 1, "Token")["token"].(string)
		for _, kind := range []string{"UserPerson", "UserApiKey"} {
			list := body["Response"].([]any)
			if u, ok := list[2].(map[string]any)[kind].(map[string]any); ok {
				r.userID = int64(u["id"].(float64))
			}
		}
	}
	return res
}

// ready makes an installation, a device and a session.
func (r *raw) ready() {
	r.t.Helper()
	r.installation()
	if res := r.device(); res.status != 200 {
		r.t.Fatalf("device-server: %d %s", res.status, res.body)
	}
	if res := r.open(); res.status != 200 {
		r.t.Fatalf("session-server: %d %s", res.status, res.body)
	}
}

func (r *raw) pins() string { return "user/" + itoa(r.userID) + "/certificate-pinned" }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func pinBody(pems ...string) map[string]any {
	var chain []map[string]string
	for _, p := range pems {
		chain = append(chain, map[string]string{"certificate": p})
	}
	return map[string]any{"certificate_chain": chain}
}

func TestHandshakeRepliesArePositionalAndSigned(t *testing.T) {
	t.Parallel()
	r := newRaw(t, bunqtest.Options{DisableRateLimits: true})
	r.ready()
	res := r.do("GET", r.pins(), r.session, "good", nil)
	if res.status != 200 || res.header.Get("X-Bunq-Client-Request-Id") != "req-1" {
		t.Fatalf("list: %d, request id %q", res.status, res.header.Get("X-Bunq-Client-Request-Id"))
	}
	p := res.json(t)["Pagination"].(map[string]any)
	for _, k := range []string{"future_url", "newer_url", "older_url"} {
		if _, ok := p[k]; !ok {
			t.Errorf("Pagination lacks %s", k)
		}
	}
}

func TestUserApiKeySession(t *testing.T) {
	t.Parallel()
	r := newRaw(t, bunqtest.Options{DisableRateLimits: true})
	r.emu.AddAPIKey(key, bunqtest.UserOptions{Type: "UserApiKey"})
	r.installation()
	r.device()
	res := r.open()
	u := entry(t, res.json(t), 2, "UserApiKey")
	requester := u["requested_by_user"].(map[string]any)["UserPerson"].(map[string]any)
	if requester["session_timeout"].(float64) != 604800 {
		t.Errorf("UserApiKey requester session_timeout = %v, want 604800", requester["session_timeout"])
	}
	if res := r.do("GET", r.pins(), r.session, "good", nil); res.status != 200 {
		t.Errorf("list as UserApiKey: %d", res.status)
	}
}

func TestSignatureRules(t *testing.T) {
	t.Parallel()
	r := newRaw(t, bunqtest.Options{DisableRateLimits: true})
	r.installation()
	r.device()
	res := r.do("POST", "session-server", r.install, "none", map[string]string{"secret": key})
	if res.status != 466 || res.errorText(t) != bunqtest.TextSignatureRequired {
		t.Errorf("unsigned session-server: %d %s", res.status, res.body)
	}
	res = r.do("POST", "session-server", r.install, "bad", map[string]string{"secret": key})
	if res.status != 400 || res.errorText(t) != bunqtest.TextSignatureInvalid {
		t.Errorf("wrongly signed session-server: %d %s", res.status, res.body)
	}
	r.open()
	if res := r.do("GET", r.pins(), r.session, "none", nil); res.status != 200 {
		t.Errorf("unsigned list (optional signature): %d", res.status)
	}
	res = r.do("POST", r.pins(), r.session, "bad", pinBody(bunqtest.CertificatePEM("a")))
	if res.status != 400 || res.errorText(t) != bunqtest.TextSignatureInvalid {
		t.Errorf("wrongly signed pin: %d %s", res.status, res.body)
	}
	strict := newRaw(t, bunqtest.Options{DisableRateLimits: true, RequireSignatures: true})
	strict.ready()
	if res := strict.do("GET", strict.pins(), strict.session, "none", nil); res.status != 466 {
		t.Errorf("unsigned list with RequireSignatures: %d", res.status)
	}
}

func TestTokenRoles(t *testing.T) {
	t.Parallel()
	r := newRaw(t, bunqtest.Options{DisableRateLimits: true})
	r.ready()
	if res := r.do("GET", r.pins(), r.install, "good", nil); res.status != 401 || res.errorText(t) != bunqtest.TextUnauthorised {
		t.Errorf("installation token on a data call: %d %s", res.status, res.body)
	}
	if res := r.do("POST", "device-server", r.session, "good", map[string]string{"description": "x", "secret": key}); res.status != 401 {
		t.Errorf("session token on device-server: %d", res.status)
	}
	if res := r.do("GET", r.pins(), "", "good", nil); res.status != 401 {
		t.Errorf("no token: %d", res.status)
	}
	if res := r.do("GET", "user/1/certificate-pinned", r.session, "good", nil); res.status != 404 {
		t.Errorf("another user's pins: %d", res.status)
	}
	forbidden := newRaw(t, bunqtest.Options{DisableRateLimits: true, Unauthorized403: true})
	forbidden.ready()
	if res := forbidden.do("GET", forbidden.pins(), "nonsense", "good", nil); res.status != 403 || res.errorText(t) != bunqtest.TextUnauthenticated {
		t.Errorf("403 mode: %d %s", res.status, res.body)
	}
}

func TestSessionExpiresAndEnds(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r := newRaw(t, bunqtest.Options{DisableRateLimits: true, Now: clk.Now, SessionTimeout: time.Hour})
	r.ready()
	clk.Add(59 * time.Minute)
	if res := r.do("GET", r.pins(), r.session, "good", nil); res.status != 200 {
		t.Fatalf("before expiry: %d", res.status)
	}
	clk.Add(2 * time.Minute)
	if res := r.do("GET", r.pins(), r.session, "good", nil); res.status != 401 {
		t.Errorf("after expiry: %d", res.status)
	}
	r.open()
	if res := r.do("DELETE", "session/0", r.session, "good", nil); res.status != 200 {
		t.Errorf("end session: %d", res.status)
	}
	if res := r.do("GET", r.pins(), r.session, "good", nil); res.status != 401 {
		t.Errorf("after ending the session: %d", res.status)
	}
}

func TestIPBinding(t *testing.T) {
	t.Parallel()
	r := newRaw(t, bunqtest.Options{DisableRateLimits: true})
	r.ready() // bound to 127.0.0.1, the caller
	r.emu.SetClientIP("198.51.100.4")
	for _, res := range []resp{r.do("GET", r.pins(), r.session, "good", nil), r.open(), r.device()} {
		if res.status != 400 || res.errorText(t) != bunqtest.TextCredentialsIncorrect {
			t.Errorf("from another IP: %d %s", res.status, res.body)
		}
	}

	listed := newRaw(t, bunqtest.Options{DisableRateLimits: true})
	listed.installation()
	listed.device("192.0.2.1")
	if res := listed.open(); res.status != 400 {
		t.Errorf("session from an IP not in permitted_ips: %d", res.status)
	}

	wildcard := newRaw(t, bunqtest.Options{DisableRateLimits: true})
	wildcard.installation()
	wildcard.device("192.0.2.1", "*")
	wildcard.emu.SetClientIP("198.51.100.4")
	if res := wildcard.open(); res.status != 200 {
		t.Errorf("wildcard key from anywhere: %d %s", res.status, res.body)
	}
}

func TestUnknownKeyAndMissingDevice(t *testing.T) {
	t.Parallel()
	r := newRaw(t, bunqtest.Options{DisableRateLimits: true})
	r.installation()
	if res := r.open(); res.status != 400 || res.errorText(t) != bunqtest.TextCredentialsIncorrect {
		t.Errorf("session without a device: %d %s", res.status, res.body)
	}
	res := r.do("POST", "device-server", r.install, "good", map[string]string{"description": "x", "secret": "sandbox_wrong"})
	if res.status != 400 || res.errorText(t) != bunqtest.TextCredentialsIncorrect {
		t.Errorf("unknown key: %d %s", res.status, res.body)
	}
}

func TestPinCRUDAndPagination(t *testing.T) {
	t.Parallel()
	r := newRaw(t, bunqtest.Options{DisableRateLimits: true})
	r.ready()
	leaf, ca := bunqtest.CertificatePEM("leaf"), bunqtest.CertificatePEM("ca")
	res := r.do("POST", r.pins(), r.session, "good", pinBody(leaf, ca))
	if res.status != 200 {
		t.Fatalf("pin: %d %s", res.status, res.body)
	}
	id := int64(entry(t, res.json(t), 0, "Id")["id"].(float64))
	res = r.do("GET", r.pins()+"/"+itoa(id), r.session, "good", nil)
	got := entry(t, res.json(t), 0, "CertificatePinned")
	if got["certificate_chain"] != leaf+"\n"+ca {
		t.Errorf("chain not glued with newlines in order: %q", got["certificate_chain"])
	}
	if res := r.do("POST", r.pins(), r.session, "good", pinBody("not a certificate")); res.status != 400 {
		t.Errorf("garbage chain: %d", res.status)
	}
	if res := r.do("POST", r.pins(), r.session, "good", map[string]any{}); res.status != 400 {
		t.Errorf("empty body: %d", res.status)
	}
	for range 24 {
		r.emu.PinOutOfBand(key, leaf)
	}
	// 25 pins, pages of 10: newest first, older_url down to null.
	var ids []int64
	path := r.pins() + "?count=10"
	for pages := 0; path != ""; pages++ {
		if pages > 3 {
			t.Fatal("pagination does not end")
		}
		body := r.do("GET", path, r.session, "good", nil).json(t)
		for _, it := range body["Response"].([]any) {
			ids = append(ids, int64(it.(map[string]any)["CertificatePinned"].(map[string]any)["id"].(float64)))
		}
		p := body["Pagination"].(map[string]any)
		if pages == 0 && (p["future_url"] == nil || p["newer_url"] != nil) {
			t.Errorf("newest page: future_url %v, newer_url %v", p["future_url"], p["newer_url"])
		}
		path = ""
		if older, ok := p["older_url"].(string); ok {
			if !strings.HasPrefix(older, "/v1/") || !strings.Contains(older, "count=10") {
				t.Errorf("older_url %q", older)
			}
			path = strings.TrimPrefix(older, "/v1/")
		}
	}
	if len(ids) != 25 {
		t.Fatalf("%d pins over all pages, want 25", len(ids))
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] >= ids[i-1] {
			t.Fatalf("not newest first: %v", ids)
		}
	}
	if res := r.do("GET", r.pins()+"?count=201", r.session, "good", nil); res.status != 400 {
		t.Errorf("count=201: %d", res.status)
	}
	if res := r.do("DELETE", r.pins()+"/"+itoa(id), r.session, "good", nil); res.status != 200 {
		t.Errorf("unpin: %d", res.status)
	}
	if res := r.do("DELETE", r.pins()+"/"+itoa(id), r.session, "good", nil); res.status != 404 {
		t.Errorf("unpin again: %d", res.status)
	}
	if !r.emu.UnpinOutOfBand(ids[0]) || len(r.emu.Pins(key)) != 23 {
		t.Errorf("out-of-band unpin: %d pins left", len(r.emu.Pins(key)))
	}
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r := newRaw(t, bunqtest.Options{Now: clk.Now})
	r.ready()
	for i := range 3 {
		if res := r.do("GET", r.pins(), r.session, "good", nil); res.status != 200 {
			t.Fatalf("GET %d: %d", i, res.status)
		}
	}
	res := r.do("GET", r.pins(), r.session, "good", nil)
	if res.status != 429 || res.errorText(t) != "Too many requests. You can do a maximum of 3 calls per 3 second to this endpoint." {
		t.Errorf("4th GET in 3 s: %d %s", res.status, res.body)
	}
	if res.header.Get("X-Bunq-Server-Signature") != "" {
		t.Error("a 429 carries a server signature")
	}
	clk.Add(3 * time.Second)
	if res := r.do("GET", r.pins(), r.session, "good", nil); res.status != 200 {
		t.Errorf("GET after the window: %d", res.status)
	}
	if res := r.open(); res.status != 429 {
		t.Errorf("second session-server within 30 s: %d", res.status)
	}
	clk.Add(30 * time.Second)
	if res := r.open(); res.status != 200 {
		t.Errorf("session-server after 30 s: %d", res.status)
	}
}

func TestTimeScale(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r := newRaw(t, bunqtest.Options{Now: clk.Now, TimeScale: 100})
	r.ready()
	clk.Add(300 * time.Millisecond) // 30 s of bunq time
	if res := r.open(); res.status != 200 {
		t.Errorf("session-server 30 scaled seconds later: %d", res.status)
	}
	clk.Add(7 * 24 * time.Hour / 100)
	if res := r.do("GET", r.pins(), r.session, "good", nil); res.status != 401 {
		t.Errorf("a week of scaled time later the session should be gone: %d", res.status)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	r := newRaw(t, bunqtest.Options{DisableRateLimits: true})
	r.ready()
	r.emu.Inject(bunqtest.Fault{Method: "GET", Endpoint: bunqtest.EndpointPins, Status: 503, Times: 2})
	for i, want := range []int{503, 503, 200} {
		if res := r.do("GET", r.pins(), r.session, "good", nil); res.status != want {
			t.Errorf("call %d: %d, want %d", i, res.status, want)
		}
	}
	r.emu.Inject(bunqtest.Fault{Endpoint: bunqtest.EndpointPins, Status: 500, Rate: 0.5})
	failed := 0
	for range 100 {
		if r.do("GET", r.pins(), r.session, "good", nil).status == 500 {
			failed++
		}
	}
	if failed < 20 || failed > 80 {
		t.Errorf("a 50%% fault hit %d of 100 calls", failed)
	}
	r.emu.ClearFaults()
	r.emu.Inject(bunqtest.Fault{Endpoint: bunqtest.EndpointPins, Reset: true, Times: 1})
	// A fresh connection: Go retries a GET by itself when a reused one resets.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	req, _ := http.NewRequest("GET", r.url+r.pins(), nil)
	if _, err := fresh.Do(req); err == nil {
		t.Error("a reset fault answered")
	}
	if n := r.emu.Count("GET", bunqtest.EndpointPins); n != 104 {
		t.Errorf("counted %d GETs, want 104", n)
	}
	if got := len(r.emu.Requests()); got != 3+104 {
		t.Errorf("%d requests recorded, want 107", got)
	}
}

// A delayed call is carried out even when the client gave up waiting: that is
// how a pin whose request timed out can still appear on bunq.
func TestDelayedCallCommitsAfterTheClientGaveUp(t *testing.T) {
	t.Parallel()
	emu, err := bunqtest.New(bunqtest.Options{DisableRateLimits: true}, key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	c, err := bunq.New(bunq.Options{BaseURL: srv.URL + "/v1", APIKey: key, Limiter: bunq.NewLimiter(bunq.Limits{}, false),
		Timeout: 100 * time.Millisecond, Backoff: bunq.Backoff{Attempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UserID(context.Background()); err != nil {
		t.Fatal(err)
	}
	emu.Inject(bunqtest.Fault{Method: http.MethodPost, Endpoint: bunqtest.EndpointPins, Delay: 300 * time.Millisecond, Times: 1})
	if _, err := c.CreatePin(context.Background(), []string{bunqtest.CertificatePEM("late.example.com")}); err == nil {
		t.Fatal("the pin returned before the delay; want a timeout")
	}
	if n := len(emu.Pins(key)); n != 0 {
		t.Fatalf("%d pins while the call is held, want 0", n)
	}
	time.Sleep(400 * time.Millisecond)
	if n := len(emu.Pins(key)); n != 1 {
		t.Fatalf("%d pins after the delay, want the late commit", n)
	}
}

func TestUserEndpoints(t *testing.T) {
	t.Parallel()
	r := newRaw(t, bunqtest.Options{DisableRateLimits: true})
	r.ready()
	body := r.do("GET", "user", r.session, "good", nil).json(t)
	if got := entry(t, body, 0, "UserPerson")["id"]; int64(got.(float64)) != r.userID {
		t.Errorf("GET /user names user %v, want %d", got, r.userID)
	}
	if _, ok := body["Pagination"]; !ok {
		t.Error("GET /user has no Pagination")
	}
	body = r.do("GET", "user/"+itoa(r.userID), r.session, "good", nil).json(t)
	if got := entry(t, body, 0, "UserPerson")["id"]; int64(got.(float64)) != r.userID {
		t.Errorf("GET /user/{id} names user %v", got)
	}
	if res := r.do("GET", "user/"+itoa(r.userID+1000), r.session, "good", nil); res.status != 404 {
		t.Errorf("another user: %d", res.status)
	}
	if res := r.do("GET", "user", "", "none", nil); res.status != 401 {
		t.Errorf("GET /user without a session: %d", res.status)
	}
}

func TestNotificationFiltersAndAccounts(t *testing.T) {
	t.Parallel()
	r := newRaw(t, bunqtest.Options{DisableRateLimits: true})
	r.ready()
	user := "user/" + itoa(r.userID)
	savings := r.emu.AddMonetaryAccount(key, "MonetaryAccountSavings", "ACTIVE")
	body := r.do("GET", user+"/monetary-account", r.session, "good", nil).json(t)
	if got := int64(entry(t, body, 0, "MonetaryAccountSavings")["id"].(float64)); got != savings {
		t.Errorf("newest account %d, want %d", got, savings)
	}
	bank := int64(entry(t, body, 1, "MonetaryAccountBank")["id"].(float64))
	if entry(t, body, 1, "MonetaryAccountBank")["status"] != "ACTIVE" {
		t.Error("the first account is not ACTIVE")
	}

	set := map[string]any{"notification_filters": []map[string]string{
		{"category": "MUTATION", "notification_target": "https://hooks.example.com/bunq"}}}
	if res := r.do("POST", user+"/notification-filter-url", r.session, "good", set); res.status != 200 {
		t.Fatalf("set user filters: %d %s", res.status, res.body)
	}
	r.emu.SetNotificationFilters(key, bank, bunqtest.NotificationFilter{Category: "PAYMENT", Target: "https://pay.example.com/cb"})
	body = r.do("GET", user+"/notification-filter-url", r.session, "good", nil).json(t)
	if got := entry(t, body, 0, "NotificationFilterUrl"); got["category"] != "MUTATION" || got["notification_target"] != "https://hooks.example.com/bunq" {
		t.Errorf("user filter %v", got)
	}
	body = r.do("GET", user+"/monetary-account/"+itoa(bank)+"/notification-filter-url", r.session, "good", nil).json(t)
	if got := entry(t, body, 0, "NotificationFilterUrl"); got["notification_target"] != "https://pay.example.com/cb" {
		t.Errorf("account filter %v", got)
	}
	bad := map[string]any{"notification_filters": []map[string]string{{"category": "MUTATION", "notification_target": "ftp://x"}}}
	if res := r.do("POST", user+"/notification-filter-url", r.session, "good", bad); res.status != 400 {
		t.Errorf("a non-https target: %d", res.status)
	}
	if res := r.do("GET", user+"/monetary-account/1/notification-filter-url", r.session, "good", nil); res.status != 404 {
		t.Errorf("an unknown account: %d", res.status)
	}
}

func TestAdminEndsOneUsersSessions(t *testing.T) {
	t.Parallel()
	r := newRaw(t, bunqtest.Options{DisableRateLimits: true})
	r.ready()
	other := "sandbox_emulator_test_other_0123456789abcdef0123456789abcdef"
	r.emu.AddAPIKey(other, bunqtest.UserOptions{})
	var sessions int
	c, err := bunq.New(bunq.Options{BaseURL: r.url, APIKey: other, Limiter: bunq.NewLimiter(bunq.Limits{}, false),
		Observe: func(ci bunq.CallInfo) {
			if ci.Endpoint == bunqtest.EndpointSession {
				sessions++
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListPins(context.Background()); err != nil {
		t.Fatal(err)
	}

	admin := httptest.NewServer(r.emu.AdminHandler())
	defer admin.Close()
	res, err := http.Post(admin.URL+"/_emulator/users/"+itoa(r.userID)+"/expire-sessions", "", nil)
	if err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("expire-sessions: %v %v", res, err)
	}
	_ = res.Body.Close()
	if res := r.do("GET", r.pins(), r.session, "good", nil); res.status != 401 {
		t.Errorf("the user's session after expire-sessions: %d", res.status)
	}
	if _, err := c.ListPins(context.Background()); err != nil || sessions != 1 {
		t.Errorf("another user's session: %v, %d sessions opened, want 1", err, sessions)
	}
}
