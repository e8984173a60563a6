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
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/config"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq"
	"github.com/pinq-dev/bunq-pinning-operator/test/k8sassets"
)

var (
	cfg       *rest.Config
	k8sClient client.Client
	testEnv   *envtest.Environment
	ctx       context.Context
	cancel    context.CancelFunc

	// bunqURLs routes each test's API key to that test's emulator.
	bunqURLs sync.Map
	// bunqLimiters gives an API key a rate limiter; keys without one are unlimited.
	bunqLimiters sync.Map
	// testReconciler is the reconciler the manager runs, to look at what it keeps.
	testReconciler *BunqPinnedCertificateReconciler
	// testClock is the reconciler's clock, moved forward to reach resyncs and retirements.
	testClock = &aheadClock{}
)

// testClientTimeout bounds each bunq call in the tests, and so the window in
// which a call with an unknown outcome may still commit.
const testClientTimeout = 3 * time.Second

// contextNamespace holds the API context Secrets in the tests.
const contextNamespace = "bunq-pinning-system"

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controller Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	// A loaded CI machine can take more than Gomega's 1 s default for a pass.
	SetDefaultEventuallyTimeout(10 * time.Second)
	SetDefaultEventuallyPollingInterval(20 * time.Millisecond)
	ctx, cancel = context.WithCancel(context.TODO())

	Expect(bunqv1alpha1.AddToScheme(scheme.Scheme)).To(Succeed())
	Expect(apiextensionsv1.AddToScheme(scheme.Scheme)).To(Succeed())

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: localAssets(),
	}
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	Expect(cfg).NotTo(BeNil())

	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme.Scheme})
	Expect(err).NotTo(HaveOccurred())
	startManager()
})

// startManager runs the controller as main does, with bunq clients pointed at
// the emulator of the API key's test.
func startManager() {
	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: contextNamespace}})).To(Succeed())
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
		// A panic must fail the suite, not be logged and retried.
		Controller: config.Controller{RecoverPanic: ptr.To(false)},
	})
	Expect(err).NotTo(HaveOccurred())
	r := &BunqPinnedCertificateReconciler{
		Client:           slowStatusClient{mgr.GetClient()},
		APIReader:        mgr.GetAPIReader(),
		Recorder:         mgr.GetEventRecorder("bunq-pinning-operator"),
		NewClient:        testClientFactory,
		ContextNamespace: contextNamespace,
		ResyncPeriod:     time.Hour,
		Clock:            testClock,
		LateCommitWindow: testClientTimeout,
		DialEndpoint:     testDial,
	}
	Expect(r.SetupWithManager(mgr, 4)).To(Succeed())
	testReconciler = r
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
}

// statusWriteDelays holds, per namespace, how long the controller's status
// writes take longer than the API server makes them: to see what a reader finds
// meanwhile.
var statusWriteDelays sync.Map // namespace → time.Duration

type slowStatusClient struct{ client.Client }

func (c slowStatusClient) Status() client.SubResourceWriter {
	return slowStatusWriter{c.Client.Status()}
}

type slowStatusWriter struct{ client.SubResourceWriter }

func (s slowStatusWriter) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	if d, ok := statusWriteDelays.Load(obj.GetNamespace()); ok {
		time.Sleep(d.(time.Duration))
	}
	return s.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}

func testClientFactory(env bunqv1alpha1.Environment, apiKey string, store bunq.ContextStore) (BunqClient, error) {
	url, ok := bunqURLs.Load(apiKey)
	if s, isSecret := store.(*secretStore); apiKey == "" && isSecret {
		url, ok = bunqURLs.Load(s.key.Name) // a key-less client, found by its context
	}
	if !ok {
		return nil, fmt.Errorf("no emulator for this API key")
	}
	limiter := bunq.NewLimiter(bunq.Limits{}, false)
	if l, ok := bunqLimiters.Load(apiKey); ok {
		limiter = l.(*bunq.Limiter)
	}
	return bunq.New(bunq.Options{
		BaseURL: url.(string), APIKey: apiKey, Store: store,
		Limiter: limiter,
		Backoff: bunq.Backoff{Attempts: 3, Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		Timeout: testClientTimeout,
		Now:     testNow,
		Observe: ObserveBunqCall,
	})
}

var _ = AfterSuite(func() {
	cancel()
	Expect(testEnv.Stop()).To(Succeed())
})

// localAssets finds the kube-apiserver and etcd that `make envtest` builds, so that
// `go test ./controllers/...` works from an editor without KUBEBUILDER_ASSETS.
// KUBEBUILDER_ASSETS, when set, wins inside envtest itself.
func localAssets() string {
	dir, err := k8sassets.Dir("..")
	if err != nil {
		return ""
	}
	if _, err := os.Stat(filepath.Join(dir, "kube-apiserver")); err != nil {
		return ""
	}
	return dir
}
