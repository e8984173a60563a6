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

// Command manager runs the bunq pinning operator.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq"
	"github.com/pinq-dev/bunq-pinning-operator/controllers"
)

var (
	// version is set at build time with -ldflags "-X main.version=...".
	version = "dev"

	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(bunqv1alpha1.AddToScheme(scheme))
}

// config holds the manager's flags; docs/configuration.md lists them.
type config struct {
	productionURL, sandboxURL string
	contextNamespace          string
	resyncPeriod              time.Duration
	permittedIPs              string
	maxConcurrent             int
	metricsAddr, probeAddr    string
	pprofAddr                 string
	secureMetrics             bool
	metricsCertPath           string
	metricsCertName           string
	metricsCertKey            string
	leaderElect               bool
	timeScale                 float64
	rateBudget                float64
	watchNamespaces           []string
}

func parseFlags() (config, zap.Options) {
	var c config
	flag.StringVar(&c.productionURL, "bunq-production-url", "https://api.bunq.com/v1", "bunq production API root.")
	flag.StringVar(&c.sandboxURL, "bunq-sandbox-url", "https://public-api.sandbox.bunq.com/v1", "bunq sandbox API root.")
	flag.StringVar(&c.contextNamespace, "context-namespace", defaultNamespace(), "Namespace of the Secrets that hold bunq API contexts.")
	flag.DurationVar(&c.resyncPeriod, "resync-period", controllers.DefaultResyncPeriod, "How often pins are read back from bunq.")
	flag.StringVar(&c.permittedIPs, "permitted-ips", "", "Comma-separated IPs sent at device registration; '*' makes a wildcard key; empty binds the key to the caller's IP.")
	flag.IntVar(&c.maxConcurrent, "max-concurrent-reconciles", 8, "Resources reconciled at once; more than bunq's 5 POSTs per window keeps the window full.")
	flag.StringVar(&c.metricsAddr, "metrics-bind-address", "0", "Metrics endpoint address: :8443 for HTTPS, :8080 for HTTP, 0 to disable.")
	flag.BoolVar(&c.secureMetrics, "metrics-secure", true, "Serve metrics over HTTPS with authentication and authorization.")
	flag.StringVar(&c.metricsCertPath, "metrics-cert-path", "", "Folder of the metrics server's certificate (e.g. a mounted cert-manager Secret); empty: a self-signed one. Renewals are picked up.")
	flag.StringVar(&c.metricsCertName, "metrics-cert-name", "tls.crt", "Certificate file in --metrics-cert-path.")
	flag.StringVar(&c.metricsCertKey, "metrics-cert-key", "tls.key", "Key file in --metrics-cert-path.")
	flag.StringVar(&c.probeAddr, "health-probe-bind-address", ":8081", "Health probe endpoint address.")
	flag.StringVar(&c.pprofAddr, "pprof-bind-address", "0", "Go profiling endpoint (/debug/pprof/) address, such as 127.0.0.1:8082; 0 to disable. Unauthenticated: bind it to localhost.")
	flag.BoolVar(&c.leaderElect, "leader-elect", false, "Enable leader election, so that only one manager is active.")
	flag.Float64Var(&c.timeScale, "bunq-time-scale", 1, "Only for the bunq emulator: divide bunq's rate-limit windows, the request timeout and the key backoff by this, to match an emulator run with --time-scale.")
	flag.Float64Var(&c.rateBudget, "bunq-rate-budget", 1, "Fraction of bunq's per-IP rate limits this operator may use (0 to 1], so that another "+
		"application behind the same egress IP keeps the rest; a 429 earned anyway halves the allowance for a while.")
	flag.Func("watch-namespaces", "Comma-separated namespaces whose resources and Secrets are served; empty: all. "+
		"With a list, Roles in those namespaces (and the context namespace) are all the RBAC it needs.", func(v string) error {
		c.watchNamespaces = splitList(v)
		return nil
	})
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	return c, opts
}

// validate refuses flags that would send API keys in clear or break bunq's
// limits: a bunq URL must be https (plain http only to a loopback host, such
// as a local emulator), and the time scale is for the emulator alone.
func (c config) validate() error {
	for _, u := range []struct{ flag, value string }{{"--bunq-production-url", c.productionURL}, {"--bunq-sandbox-url", c.sandboxURL}} {
		parsed, err := url.Parse(u.value)
		if err != nil || parsed.Host == "" {
			return fmt.Errorf("%s=%q is not an absolute URL", u.flag, u.value)
		}
		switch {
		case parsed.Scheme == "https":
		case parsed.Scheme == "http" && isLoopback(parsed.Hostname()):
		default:
			return fmt.Errorf("%s=%q: bunq is reached over https only (plain http is accepted for loopback hosts, "+
				"such as a local emulator); API keys and session tokens must not travel in clear", u.flag, u.value)
		}
		if c.timeScale != 1 && isBunqHost(parsed.Hostname()) {
			return fmt.Errorf("--bunq-time-scale=%g is for the bunq emulator only; with %s=%q it would break bunq's rate limits",
				c.timeScale, u.flag, u.value)
		}
	}
	if !(c.rateBudget > 0 && c.rateBudget <= 1) {
		return fmt.Errorf("--bunq-rate-budget=%g: give a fraction of bunq's limits above 0 and at most 1", c.rateBudget)
	}
	for _, ns := range c.watchNamespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return fmt.Errorf("--watch-namespaces: %q is not a namespace name: %s", ns, strings.Join(errs, "; "))
		}
	}
	return nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(v string) []string {
	var items []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isBunqHost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "bunq.com" || strings.HasSuffix(host, ".bunq.com")
}

// defaultNamespace is the pod's namespace when it runs in a cluster.
func defaultNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if data, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil {
		return strings.TrimSpace(string(data))
	}
	return "bunq-pinning-system"
}

func main() {
	c, zapOpts := parseFlags()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if err := c.validate(); err != nil {
		setupLog.Error(err, "invalid flags")
		os.Exit(2)
	}
	if err := run(c); err != nil {
		setupLog.Error(err, "manager stopped")
		os.Exit(1)
	}
}

func run(c config) error {
	metricsOpts := metricsserver.Options{BindAddress: c.metricsAddr, SecureServing: c.secureMetrics,
		TLSOpts: []func(*tls.Config){func(t *tls.Config) { t.NextProtos = []string{"http/1.1"} }}}
	if c.secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	var certs *certwatcher.CertWatcher
	if c.metricsCertPath != "" {
		var err error
		certs, err = certwatcher.New(filepath.Join(c.metricsCertPath, c.metricsCertName), filepath.Join(c.metricsCertPath, c.metricsCertKey))
		if err != nil {
			return fmt.Errorf("metrics certificate: %w", err)
		}
		metricsOpts.TLSOpts = append(metricsOpts.TLSOpts, func(t *tls.Config) { t.GetCertificate = certs.GetCertificate })
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsOpts,
		HealthProbeBindAddress: c.probeAddr,
		PprofBindAddress:       c.pprofAddr,
		LeaderElection:         c.leaderElect,
		LeaderElectionID:       "bunq-pinning-operator.pinq.dev",
		// The Lease lives beside the API contexts, also when run outside a pod.
		LeaderElectionNamespace: c.contextNamespace,
		// On a graceful stop (a deleted pod, a rollout) the manager waits for
		// its reconciles, hands the Lease back and exits at once, so the other
		// replica takes over in a second instead of after the Lease lapses.
		LeaderElectionReleaseOnCancel: true,
		Cache:                         cacheOptions(c.watchNamespaces),
	})
	if err != nil {
		return err
	}
	r := &controllers.BunqPinnedCertificateReconciler{
		Client:           mgr.GetClient(),
		APIReader:        mgr.GetAPIReader(),
		Recorder:         mgr.GetEventRecorder("bunq-pinning-operator"),
		NewClient:        clientFactory(c),
		ContextNamespace: c.contextNamespace,
		WatchNamespaces:  c.watchNamespaces,
		ResyncPeriod:     c.resyncPeriod,
		// Against the emulator, bunq's time constants run c.timeScale times faster.
		RefusedKeyBackoff: scaled(controllers.DefaultRefusedKeyBackoff, c.timeScale),
		LateCommitWindow:  scaled(bunq.DefaultTimeout, c.timeScale),
	}
	if err := r.SetupWithManager(mgr, c.maxConcurrent); err != nil {
		return err
	}
	if certs != nil {
		if err := mgr.Add(certs); err != nil { // reloads the certificate when it changes
			return err
		}
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	setupLog.Info("starting manager", "version", version, "contextNamespace", c.contextNamespace, "resyncPeriod", c.resyncPeriod, "watchNamespaces", c.watchNamespaces)
	return mgr.Start(ctrl.SetupSignalHandler())
}

// cacheOptions scopes the cache to the watched namespaces, if any, so that a
// namespaced install needs no cluster-wide list or watch. The context
// namespace is read live and need not be cached.
func cacheOptions(watch []string) cache.Options {
	// Managed fields are dead weight in the cache.
	o := cache.Options{DefaultTransform: cache.TransformStripManagedFields()}
	if len(watch) > 0 {
		o.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range watch {
			o.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return o
}

// scaled divides a bunq time constant by the emulator's time scale.
func scaled(d time.Duration, timeScale float64) time.Duration {
	if timeScale <= 0 {
		return d
	}
	return time.Duration(float64(d) / timeScale)
}

// clientFactory is the one place that builds bunq clients. They share one
// limiter: bunq counts calls per IP, whatever the API key.
func clientFactory(c config) controllers.ClientFactory {
	limiter := bunq.SharedLimiter()
	if c.timeScale != 1 || c.rateBudget != 1 {
		limiter = bunq.NewLimiter(bunq.DefaultLimits().Scaled(c.timeScale).Budget(c.rateBudget), true)
	}
	ips := splitList(c.permittedIPs)
	return func(env bunqv1alpha1.Environment, apiKey string, store bunq.ContextStore) (controllers.BunqClient, error) {
		base := c.productionURL
		if env == bunqv1alpha1.EnvironmentSandbox {
			base = c.sandboxURL
		}
		return bunq.New(bunq.Options{
			BaseURL: base, APIKey: apiKey, Store: store, PermittedIPs: ips, Limiter: limiter,
			UserAgent: "bunq-pinning-operator/" + version, Observe: controllers.ObserveBunqCall,
			Timeout: scaled(bunq.DefaultTimeout, c.timeScale),
		})
	}
}
