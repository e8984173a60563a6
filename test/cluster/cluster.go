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

// Package cluster is a single-node Kubernetes cluster for tests, built from
// parts served here: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, kubelet and kube-proxy from bin/k8s, and Debian's
// containerd, runc and CNI plugins. Each runs as a child process under one
// work folder; Stop ends them by PID and undoes what the node changed.
package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/pinq-dev/bunq-pinning-operator/test/k8sassets"
	"github.com/pinq-dev/bunq-pinning-operator/test/localstack"
)

const (
	NodeName    = "node-1"
	serviceCIDR = "10.96.0.0/16"
	podCIDR     = "10.88.0.0/16"
	// APIServiceIP is the first address of serviceCIDR: the kubernetes Service.
	APIServiceIP = "10.96.0.1"
	bridge       = "bunqtest0"
)

// Cluster is the running cluster.
type Cluster struct {
	Root       string // the repository
	Dir        string // everything it writes, logs included
	HostIP     string // the node's address, reachable from pods
	Kubeconfig string // cluster-admin

	bin          string
	ca           *authority
	apiServer    string
	etcd         string
	procs        []*exec.Cmd
	created      []string        // folders outside Dir that the node made
	netns        bool            // the emulator's network namespace exists
	emulator     *http.Client    // trusts the emulator's certificate; one for every poll
	sandboxNetns map[string]bool // the named network namespaces before the node started
}

// Start brings the cluster up, with the pause image imported, and waits for
// the node to be Ready. Call Stop even when it fails.
func Start(root string) (*Cluster, error) {
	dir, err := os.MkdirTemp("", "bunq-cluster-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Root: root, Dir: dir}
	if c.bin, err = k8sassets.Dir(root); err != nil {
		return c, err
	}
	if c.HostIP, err = hostIP(); err != nil {
		return c, err
	}
	steps := []struct {
		name string
		run  func() error
	}{
		{"certificates", c.writeCertificates},
		{"etcd", c.startEtcd},
		{"kube-apiserver", c.startAPIServer},
		{"kube-controller-manager", c.startControllerManager},
		{"kube-scheduler", c.startScheduler},
		{"containerd", c.startContainerd},
		{"kubelet", c.startKubelet},
		{"kube-proxy", c.startProxy},
	}
	for _, s := range steps {
		if err := s.run(); err != nil {
			return c, fmt.Errorf("%s: %w (logs in %s)", s.name, err, dir)
		}
	}
	return c, nil
}

func (c *Cluster) path(parts ...string) string {
	return filepath.Join(append([]string{c.Dir}, parts...)...)
}

// Log is the log file of one component.
func (c *Cluster) Log(name string) string { return c.path(name + ".log") }

// spawn starts a component, logging to its file.
func (c *Cluster) spawn(name, binary string, args ...string) error {
	cmd, err := localstack.Spawn(c.Log(name), binary, args...)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, cmd)
	return nil
}

func (c *Cluster) k8s(name string) string { return filepath.Join(c.bin, name) }

func (c *Cluster) writeCertificates() error {
	if err := os.MkdirAll(c.path("pki"), 0o700); err != nil {
		return err
	}
	var err error
	if c.ca, err = newAuthority(c.path("pki")); err != nil {
		return err
	}
	issues := []struct {
		name, cn string
		orgs     []string
		hosts    []string
	}{
		{"apiserver", "kube-apiserver", nil, []string{c.HostIP, APIServiceIP, "127.0.0.1", "localhost", "kubernetes",
			"kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}},
		{"admin", "cluster-admin", []string{"system:masters"}, nil},
		{"controller-manager", "system:kube-controller-manager", nil, nil},
		{"scheduler", "system:kube-scheduler", nil, nil},
		{"kubelet", "system:node:" + NodeName, []string{"system:nodes"}, nil},
		{"kubelet-serving", "system:node:" + NodeName, nil, []string{NodeName, c.HostIP}},
		{"proxy", "system:kube-proxy", nil, nil},
	}
	for _, i := range issues {
		if err := c.ca.issue(i.name, i.cn, i.orgs, i.hosts...); err != nil {
			return err
		}
	}
	return serviceAccountKeys(c.path("pki"))
}

// kubeconfig writes a kubeconfig for one of the issued client certificates.
func (c *Cluster) kubeconfig(name string) (string, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: c.apiServer, CertificateAuthority: c.ca.path("ca.crt")}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificate: c.ca.path(name + ".crt"), ClientKey: c.ca.path(name + ".key")}
	cfg.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: name}
	cfg.CurrentContext = "local"
	file := c.path(name + ".kubeconfig")
	return file, clientcmd.WriteToFile(*cfg, file)
}

func (c *Cluster) startEtcd() error {
	client, peer, err := freePorts2()
	if err != nil {
		return err
	}
	url := "http://127.0.0.1:" + strconv.Itoa(client)
	if err := c.spawn("etcd", c.k8s("etcd"), "--data-dir", c.path("etcd"), "--listen-client-urls", url,
		"--advertise-client-urls", url, "--listen-peer-urls", "http://127.0.0.1:"+strconv.Itoa(peer),
		"--unsafe-no-fsync", "--log-level", "warn"); err != nil {
		return err
	}
	c.etcd = url
	return waitFor(30*time.Second, func() error { return get(http.DefaultClient, url+"/health") })
}

func (c *Cluster) startAPIServer() error {
	port, err := localstack.FreePort()
	if err != nil {
		return err
	}
	c.apiServer = "https://" + net.JoinHostPort(c.HostIP, strconv.Itoa(port))
	pki := c.ca.path
	if err := c.spawn("kube-apiserver", c.k8s("kube-apiserver"),
		"--etcd-servers", c.etcd, "--bind-address", "0.0.0.0", "--advertise-address", c.HostIP,
		"--secure-port", strconv.Itoa(port), "--cert-dir", c.path("apiserver"),
		"--tls-cert-file", pki("apiserver.crt"), "--tls-private-key-file", pki("apiserver.key"),
		"--client-ca-file", pki("ca.crt"),
		"--kubelet-client-certificate", pki("admin.crt"), "--kubelet-client-key", pki("admin.key"),
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", pki("sa.pub"), "--service-account-signing-key-file", pki("sa.key"),
		"--service-cluster-ip-range", serviceCIDR, "--authorization-mode", "Node,RBAC",
		"--enable-admission-plugins", "NodeRestriction", "--allow-privileged=false"); err != nil {
		return err
	}
	admin, err := c.kubeconfig("admin")
	if err != nil {
		return err
	}
	c.Kubeconfig = admin
	httpc, err := c.adminHTTP()
	if err != nil {
		return err
	}
	return waitFor(90*time.Second, func() error { return get(httpc, c.apiServer+"/readyz") })
}

// adminHTTP is an HTTP client that trusts the cluster and presents the admin certificate.
func (c *Cluster) adminHTTP() (*http.Client, error) {
	cert, err := tls.LoadX509KeyPair(c.ca.path("admin.crt"), c.ca.path("admin.key"))
	if err != nil {
		return nil, err
	}
	return c.httpClient(5*time.Second, cert)
}

// httpClient trusts the cluster's CA and nothing else, presenting certs.
func (c *Cluster) httpClient(timeout time.Duration, certs ...tls.Certificate) (*http.Client, error) {
	ca, err := os.ReadFile(c.CACert())
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}}}, nil
}

func (c *Cluster) startControllerManager() error {
	return c.startControlPlaneComponent("kube-controller-manager", "controller-manager",
		"--root-ca-file", c.ca.path("ca.crt"), "--service-account-private-key-file", c.ca.path("sa.key"),
		"--use-service-account-credentials", "--controllers", "*")
}

func (c *Cluster) startScheduler() error {
	return c.startControlPlaneComponent("kube-scheduler", "scheduler")
}

// startControlPlaneComponent runs the controller manager or the scheduler
// with its own identity, serving its health on loopback only, alone (no
// leader election).
func (c *Cluster) startControlPlaneComponent(binary, identity string, extra ...string) error {
	kc, err := c.kubeconfig(identity)
	if err != nil {
		return err
	}
	port, err := localstack.FreePort()
	if err != nil {
		return err
	}
	return c.spawn(binary, c.k8s(binary), append([]string{"--kubeconfig", kc,
		"--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(port), "--leader-elect=false"}, extra...)...)
}

// hostIP is the first IPv4 address of an interface that is up and not
// loopback: pods reach the host, and so the API server and the emulator, there.
func hostIP() (string, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || iface.Flags&net.FlagLoopback != 0 || iface.Name == bridge {
			continue
		}
		addrs, _ := iface.Addrs()
		for _, a := range addrs {
			if ipnet, ok := a.(*net.IPNet); ok && ipnet.IP.To4() != nil {
				return ipnet.IP.String(), nil
			}
		}
	}
	return "", errors.New("no IPv4 address on an interface that is up")
}

func freePorts2() (int, int, error) {
	a, err := localstack.FreePort()
	if err != nil {
		return 0, 0, err
	}
	b, err := localstack.FreePort()
	return a, b, err
}

func get(httpc *http.Client, url string) error {
	resp, err := httpc.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// waitFor polls check until it succeeds or the time is up, and then says
// what it last failed with.
func waitFor(timeout time.Duration, check func() error) error {
	var last error
	if err := localstack.Poll(250*time.Millisecond, timeout, func() bool { last = check(); return last == nil }); err != nil {
		return fmt.Errorf("%w: %v", err, last)
	}
	return nil
}
