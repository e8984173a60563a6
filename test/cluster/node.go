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

package cluster

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pinq-dev/bunq-pinning-operator/test/localstack"
)

// PauseImage is the sandbox image containerd is told to use; ImportImage
// must have imported it.
const PauseImage = "registry.k8s.io/pause:3.10"

func (c *Cluster) containerdSocket() string { return c.path("containerd", "containerd.sock") }

// startContainerd runs containerd with a root, state and socket of its own
// and the CRI settings this kind of machine needs (local-node.md), and
// imports the pause image.
func (c *Cluster) startContainerd() error {
	for _, d := range []string{"containerd", "cni", "cni-ipam"} {
		if err := os.MkdirAll(c.path(d), 0o755); err != nil {
			return err
		}
	}
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = %q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  # runc cannot lower oom_score_adj here: without this every sandbox fails.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %q
`, c.path("containerd", "root"), c.path("containerd", "state"), c.containerdSocket(), PauseImage, c.path("cni"))
	if err := os.WriteFile(c.path("containerd.toml"), []byte(config), 0o644); err != nil {
		return err
	}
	cni := fmt.Sprintf(`{"cniVersion": "1.0.0", "name": "bunqtest", "plugins": [
  {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": %q}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
`, bridge, podCIDR, c.path("cni-ipam"))
	if err := os.WriteFile(c.path("cni", "10-bunqtest.conflist"), []byte(cni), 0o644); err != nil {
		return err
	}
	if err := c.spawn("containerd", "containerd", "--config", c.path("containerd.toml")); err != nil {
		return err
	}
	if err := waitFor(30*time.Second, func() error { return c.ctr("version") }); err != nil {
		return err
	}
	return c.ImportImage(filepath.Join(c.Root, "bin", "images", "pause.tar"))
}

// ImportImage imports an image tarball into containerd's Kubernetes namespace.
func (c *Cluster) ImportImage(tarball string) error {
	return c.ctr("images", "import", tarball)
}

func (c *Cluster) ctr(args ...string) error {
	out, err := exec.Command("ctr", append([]string{"--address", c.containerdSocket(), "--namespace", "k8s.io"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (c *Cluster) startKubelet() error {
	kc, err := c.kubeconfig("kubelet")
	if err != nil {
		return err
	}
	for _, d := range []string{"kubelet", "pod-logs", "volume-plugins"} {
		if err := os.MkdirAll(c.path(d), 0o755); err != nil {
			return err
		}
	}
	config := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 without systemd; containerd 1.6 cannot tell its cgroup driver.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: true
containerRuntimeEndpoint: unix://%s
protectKernelDefaults: false
failSwapOn: false
resolvConf: /etc/resolv.conf
podLogsDir: %s
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: %s}
authorization: {mode: AlwaysAllow}
tlsCertFile: %s
tlsPrivateKeyFile: %s
readOnlyPort: 0
healthzPort: 0
maxPods: 30
serializeImagePulls: false
evictionHard: {memory.available: 100Mi, nodefs.available: 1%%, imagefs.available: 1%%}
imageGCHighThresholdPercent: 100
`, c.containerdSocket(), c.path("pod-logs"), c.ca.path("ca.crt"), c.ca.path("kubelet-serving.crt"), c.ca.path("kubelet-serving.key"))
	if err := os.WriteFile(c.path("kubelet.yaml"), []byte(config), 0o644); err != nil {
		return err
	}
	c.remember("/var/lib/kubelet", "/var/log/containers", "/usr/libexec/kubernetes")
	c.sandboxNetns = netnsNames()
	return c.spawn("kubelet", c.k8s("kubelet"), "--config", c.path("kubelet.yaml"), "--kubeconfig", kc,
		"--root-dir", c.path("kubelet"), "--cert-dir", c.path("kubelet", "pki"), "--hostname-override", NodeName,
		"--node-ip", c.HostIP, "--volume-plugin-dir", c.path("volume-plugins"))
}

func (c *Cluster) startProxy() error {
	kc, err := c.kubeconfig("proxy")
	if err != nil {
		return err
	}
	healthz, metrics, err := freePorts2()
	if err != nil {
		return err
	}
	return c.spawn("kube-proxy", c.k8s("kube-proxy"), "--kubeconfig", kc, "--hostname-override", NodeName,
		"--cluster-cidr", podCIDR, "--proxy-mode", "iptables", "--conntrack-max-per-core", "0",
		"--healthz-bind-address", "127.0.0.1:"+strconv.Itoa(healthz), "--metrics-bind-address", "127.0.0.1:"+strconv.Itoa(metrics))
}

// remember notes which of these folders the node's parts will create, to
// remove them at Stop.
func (c *Cluster) remember(dirs ...string) {
	for _, d := range dirs {
		if _, err := os.Stat(d); os.IsNotExist(err) {
			c.created = append(c.created, d)
		}
	}
}

// Stop ends every process it started, newest first, and undoes what the node
// changed on the machine: pod processes, mounts, iptables rules, the bridge,
// cgroups. With keep, the work folder (and its logs) stays.
func (c *Cluster) Stop(keep bool) error {
	killPods()
	killShims(c.containerdSocket())
	for i := len(c.procs) - 1; i >= 0; i-- {
		localstack.Terminate(c.procs[i])
	}
	if _, err := os.Stat(c.k8s("kube-proxy")); err == nil {
		_ = exec.Command(c.k8s("kube-proxy"), "--cleanup").Run()
	}
	unmountUnder(c.Dir)
	_ = exec.Command("ip", "link", "delete", bridge).Run()
	if c.netns {
		removeEmulatorNetwork()
	}
	removeSandboxNetns(c.sandboxNetns)
	removeCNIRules()
	removeKubeletRules()
	removeCgroups()
	for _, d := range c.created {
		_ = os.RemoveAll(d)
	}
	if keep {
		return nil
	}
	return os.RemoveAll(c.Dir)
}

// kubepodsCgroups are the folders of the kubelet's pod cgroups, deepest first.
func kubepodsCgroups() []string {
	var dirs []string
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods*")
	for _, root := range roots {
		_ = filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
			if err == nil && info.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	return dirs
}

// killPods kills every process in a pod cgroup.
func killPods() {
	for _, dir := range kubepodsCgroups() {
		data, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

// killShims kills the containerd shims of this cluster's containerd.
func killShims(socket string) {
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, path := range cmdlines {
		data, err := os.ReadFile(path)
		if err != nil || !strings.Contains(string(data), "containerd-shim") || !strings.Contains(string(data), socket) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(path))); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// removeCgroups removes the pod cgroups, waiting up to five seconds for the
// killed processes to leave them.
func removeCgroups() {
	_ = localstack.Poll(250*time.Millisecond, 5*time.Second, func() bool {
		left := 0
		for _, dir := range kubepodsCgroups() {
			if err := syscall.Rmdir(dir); err != nil {
				left++
			}
		}
		return left == 0
	})
}

// unmountUnder detaches every mount below dir, deepest first.
func unmountUnder(dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir) {
			points = append(points, fields[4])
		}
	}
	f.Close()
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	for _, p := range points {
		_ = syscall.Unmount(p, syscall.MNT_DETACH)
	}
}

// removeKubeletRules drops the chains the kubelet adds at every start (the
// canaries it watches for flushes, and its localnet firewall); kube-proxy
// --cleanup removes only kube-proxy's own.
func removeKubeletRules() {
	for _, args := range [][]string{
		{"-D", "INPUT", "-j", "KUBE-FIREWALL"},
		{"-D", "OUTPUT", "-j", "KUBE-FIREWALL"},
		{"-F", "KUBE-FIREWALL"},
		{"-X", "KUBE-FIREWALL"},
		{"-X", "KUBE-KUBELET-CANARY"},
		{"-t", "nat", "-X", "KUBE-KUBELET-CANARY"},
		{"-t", "mangle", "-X", "KUBE-KUBELET-CANARY"},
		{"-t", "mangle", "-X", "KUBE-IPTABLES-HINT"},
	} {
		_ = exec.Command("iptables", args...).Run()
	}
}

// removeCNIRules drops the NAT rules the bridge plugin left for pods whose
// sandboxes were killed rather than torn down: the jumps from POSTROUTING for
// the pod subnet, then the CNI- chains.
func removeCNIRules() {
	out, err := exec.Command("iptables", "-t", "nat", "-L", "POSTROUTING", "-n", "--line-numbers").Output()
	if err != nil {
		return
	}
	var numbers []int
	chains := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[1], "CNI-") && strings.HasPrefix(f[4], strings.TrimSuffix(podCIDR, "0.0/16")) {
			if n, err := strconv.Atoi(f[0]); err == nil {
				numbers = append(numbers, n)
				chains[f[1]] = true
			}
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(numbers)))
	for _, n := range numbers {
		_ = exec.Command("iptables", "-t", "nat", "-D", "POSTROUTING", strconv.Itoa(n)).Run()
	}
	for ch := range chains {
		_ = exec.Command("iptables", "-t", "nat", "-F", ch).Run()
		_ = exec.Command("iptables", "-t", "nat", "-X", ch).Run()
	}
}

// netnsNames are the named network namespaces, as ip netns lists them.
func netnsNames() map[string]bool {
	names := map[string]bool{}
	entries, _ := os.ReadDir("/var/run/netns")
	for _, e := range entries {
		names[e.Name()] = true
	}
	return names
}

// removeSandboxNetns deletes the pod sandboxes' namespaces (containerd names
// them cni-…) that were not there before the node started.
func removeSandboxNetns(before map[string]bool) {
	if before == nil {
		return
	}
	for name := range netnsNames() {
		if strings.HasPrefix(name, "cni-") && !before[name] {
			_ = exec.Command("ip", "netns", "delete", name).Run()
		}
	}
}
