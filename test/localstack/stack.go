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

// Package localstack runs what a user runs, on one machine: a local control
// plane (kube-apiserver and etcd from bin/k8s), the bunq emulator command and
// the operator binary, each as its own process. make demo and the e2e tests use it.
package localstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/test/k8sassets"
)

// stack is a local control plane, the bunq emulator and the operator, each
// running as it would for a user.
type Stack struct {
	Root       string // the repository
	Dir        string // logs and kubeconfig
	Config     *rest.Config
	Kubeconfig string
	Client     client.Client
	BunqURL    string // the emulator's root, without /v1

	env   *envtest.Environment
	procs []*exec.Cmd
}

// Options say what to start.
type Options struct {
	Root       string   // the repository
	APIKeys    []string // keys the emulator accepts
	InstallCRD bool     // install the CRD with the control plane
	// EmulatorArgs are added to the emulator's command line, such as --time-scale.
	EmulatorArgs []string
	// BunqURL is an emulator the caller serves (to inject faults and read what
	// it received); none is started then.
	BunqURL string
}

// Start brings up the control plane and the emulator. Call Stop even when it fails.
func Start(o Options) (*Stack, error) {
	dir, err := os.MkdirTemp("", "bunq-pinning-")
	if err != nil {
		return nil, err
	}
	s := &Stack{Root: o.Root, Dir: dir}
	if err := s.startControlPlane(o.InstallCRD); err != nil {
		return s, err
	}
	if o.BunqURL != "" {
		s.BunqURL = o.BunqURL
		return s, nil
	}
	port, err := FreePort()
	if err != nil {
		return s, err
	}
	s.BunqURL = "http://127.0.0.1:" + strconv.Itoa(port)
	args := []string{"--listen", "127.0.0.1:" + strconv.Itoa(port)}
	for _, k := range o.APIKeys {
		args = append(args, "--api-key", k)
	}
	if err := s.spawn("bunq-emulator", filepath.Join(o.Root, "bin", "bunq-emulator"), append(args, o.EmulatorArgs...)...); err != nil {
		return s, err
	}
	if err := waitHTTP(s.BunqURL + "/_emulator/counts"); err != nil {
		return s, fmt.Errorf("bunq emulator did not start (log: %s): %w", s.Log("bunq-emulator"), err)
	}
	return s, nil
}

func (s *Stack) startControlPlane(installCRD bool) error {
	assets, err := k8sassets.Dir(s.Root)
	if err != nil {
		return err
	}
	s.env = &envtest.Environment{BinaryAssetsDirectory: assets}
	// A throwaway etcd need not wait for the disk on every write: without fsync,
	// timings measure the operator rather than this machine's disk.
	s.env.ControlPlane.Etcd = &envtest.Etcd{}
	s.env.ControlPlane.Etcd.Configure().Set("unsafe-no-fsync", "true")
	// A certificate folder of our own survives a restart of the API server,
	// so clients keep trusting it.
	certs := filepath.Join(s.Dir, "apiserver")
	if err := os.Mkdir(certs, 0o700); err != nil {
		return err
	}
	s.env.ControlPlane.APIServer = &envtest.APIServer{CertDir: certs}
	if installCRD {
		s.env.CRDDirectoryPaths = []string{filepath.Join(s.Root, "config", "crd", "bases")}
		s.env.ErrorIfCRDPathMissing = true
	}
	cfg, err := s.env.Start()
	if err != nil {
		return fmt.Errorf("start the control plane (run `make envtest` first): %w", err)
	}
	s.Config = cfg
	user, err := s.env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return err
	}
	s.Kubeconfig = filepath.Join(s.Dir, "kubeconfig")
	if err := os.WriteFile(s.Kubeconfig, kubeconfig, 0o600); err != nil {
		return err
	}
	if err := bunqv1alpha1.AddToScheme(scheme.Scheme); err != nil {
		return err
	}
	if err := apiextensionsv1.AddToScheme(scheme.Scheme); err != nil {
		return err
	}
	s.Client, err = client.New(cfg, client.Options{Scheme: scheme.Scheme})
	return err
}

// KubeconfigFor writes a kubeconfig for a user of the control plane who has
// only the access RBAC grants it, such as a ServiceAccount's name.
func (s *Stack) KubeconfigFor(name string, groups ...string) (string, error) {
	user, err := s.env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return "", err
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	file := filepath.Join(s.Dir, "kubeconfig-"+strings.NewReplacer(":", "-", "/", "-").Replace(name))
	return file, os.WriteFile(file, kubeconfig, 0o600)
}

// ServiceAccountKubeconfig is KubeconfigFor a ServiceAccount: its user name
// and groups, as the API server gives them to its tokens.
func (s *Stack) ServiceAccountKubeconfig(namespace, name string) (string, error) {
	return s.KubeconfigFor("system:serviceaccount:"+namespace+":"+name,
		"system:serviceaccounts", "system:serviceaccounts:"+namespace)
}

// StartDeployment runs the operator's Deployment as a kubelet would run its
// pod, there being no node here: the manager binary as the pod's
// ServiceAccount with the container's arguments, then what a process beside
// the API server needs (no ports of its own).
func (s *Stack) StartDeployment(d *appsv1.Deployment) (*exec.Cmd, error) {
	pod := d.Spec.Template.Spec
	kubeconfig, err := s.ServiceAccountKubeconfig(d.Namespace, pod.ServiceAccountName)
	if err != nil {
		return nil, err
	}
	args := append(append([]string{}, pod.Containers[0].Args...), "--kubeconfig", kubeconfig,
		"--metrics-bind-address", "0", "--health-probe-bind-address", "0")
	return s.StartOperatorNamed("manager", args...)
}

// StartOperator runs the manager binary as a user would, against the emulator.
func (s *Stack) StartOperator(extraArgs ...string) error {
	_, err := s.StartOperatorProcess(extraArgs...)
	return err
}

// StartOperatorProcess is StartOperator returning the process, to measure or kill it.
func (s *Stack) StartOperatorProcess(extraArgs ...string) (*exec.Cmd, error) {
	return s.StartOperatorNamed("manager", extraArgs...)
}

// StartOperatorNamed starts a manager that logs to name.log, to tell several apart.
func (s *Stack) StartOperatorNamed(name string, extraArgs ...string) (*exec.Cmd, error) {
	args := append([]string{
		"--kubeconfig", s.Kubeconfig,
		// Both environments go to the emulator: nothing here may reach bunq.
		"--bunq-sandbox-url", s.BunqURL + "/v1",
		"--bunq-production-url", s.BunqURL + "/v1",
		"--context-namespace", "bunq-pinning-system",
		"--health-probe-bind-address", "0",
		"--metrics-bind-address", "0",
	}, extraArgs...)
	if err := s.spawn(name, filepath.Join(s.Root, "bin", "manager"), args...); err != nil {
		return nil, err
	}
	return s.procs[len(s.procs)-1], nil
}

func (s *Stack) spawn(name, binary string, args ...string) error {
	cmd, err := Spawn(s.Log(name), binary, args...)
	if err != nil {
		return fmt.Errorf("start %s (run `make demo` to build it): %w", name, err)
	}
	s.procs = append(s.procs, cmd)
	return nil
}

// Spawn starts a program in a process group of its own (so that Kill ends
// its children too), appending its output to logFile.
func Spawn(logFile, binary string, args ...string) (*exec.Cmd, error) {
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, err
	}
	return cmd, nil
}

func (s *Stack) Log(name string) string { return filepath.Join(s.Dir, name+".log") }

// Kill ends a process at once, as a node failure or the OOM killer would.
func Kill(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
}

// RestartAPIServer kills the API server as a crash would (a graceful stop
// waits for every client's watch), leaves it down for down, and starts it again
// on the same address, certificates and etcd.
func (s *Stack) RestartAPIServer(down time.Duration) error {
	api := s.env.ControlPlane.APIServer
	pid, err := pidWithArg("--cert-dir=" + api.CertDir)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return err
	}
	if err := api.Stop(); err != nil {
		return err
	}
	time.Sleep(down)
	return api.Start()
}

// pidWithArg finds the process whose command line holds arg.
func pidWithArg(arg string) (int, error) {
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, path := range cmdlines {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for _, a := range strings.Split(string(data), "\x00") {
			if a == arg {
				return strconv.Atoi(filepath.Base(filepath.Dir(path)))
			}
		}
	}
	return 0, fmt.Errorf("no process has %s", arg)
}

// Stop ends every process and the control plane.
func (s *Stack) Stop() error {
	var errs []error
	for i := len(s.procs) - 1; i >= 0; i-- {
		Terminate(s.procs[i])
	}
	if s.env != nil {
		errs = append(errs, s.env.Stop())
	}
	return errors.Join(errs...)
}

// FreePort is a TCP port on loopback that nothing listens on just now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitHTTP(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		if _, err := GetJSON(ctx, url, nil); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
