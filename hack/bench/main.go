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

// Command bench is `make bench`: it runs the operator binary against a local
// control plane and the bunq emulator with bunq's rate limits on (time-scaled),
// and prints each figure of docs/benchmarks.md with its target.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
	"github.com/pinq-dev/bunq-pinning-operator/test/localstack"
)

const (
	rotationKey = "sandbox_bench_rotation_000000000000000000000000000000000000000"
	fleetKey    = "sandbox_bench_fleet_000000000000000000000000000000000000000000"
	ns          = "bench"
)

var (
	timeScale  = flag.Float64("time-scale", 5, "emulator and limiter time scale: bunq's 3 s windows last 3/scale s")
	pprofAddr  = flag.String("pprof-address", "", "when set, the manager serves Go's profiles there (--pprof-bind-address), to profile a phase with go tool pprof")
	rotationsN = flag.Int("rotations", 40, "rotations measured on a quiet operator")
	coldN      = flag.Int("cold", 200, "resources created at once on one API key")
	driftN     = flag.Int("drift", 1000, "resources on one API key for the resync and memory figures")
	unrelatedN = flag.Int("unrelated", 5000, "unrelated 50 KB Secrets for the memory figure")
	steady     = flag.Duration("steady", 60*time.Second, "how long the steady state is watched")
	phases     = flag.String("phases", "rotation,cold,steady,restart,drift,memory,endpoints,budget,wildcard,flipper,refused,scale", "phases to run, in this order; later ones need the earlier ones' resources")
)

type bench struct {
	ctx   context.Context
	s     *localstack.Stack
	c     client.Client
	w     client.WithWatch
	ca    *bunqtest.CA
	mgr   *exec.Cmd
	lines []string
	miss  int

	baseRSS, basePeak float64 // MiB, with the fleet and no unrelated Secrets
}

func main() {
	flag.Parse()
	root, _ := os.Getwd()
	s, err := localstack.Start(localstack.Options{Root: root, APIKeys: append([]string{rotationKey, fleetKey, floorKey, budgetKey, neighborKey, wildKey, flipKey, healthyKey}, scaleKeyArgs()...), InstallCRD: true,
		EmulatorArgs: []string{"--time-scale", fmt.Sprint(*timeScale)}})
	b := &bench{ctx: context.Background(), s: s, ca: bunqtest.NewCA("Bench CA")}
	defer func() {
		if s != nil {
			_ = s.Stop()
		}
	}()
	if err == nil {
		b.c = s.Client
		b.w, err = client.NewWithWatch(s.Config, client.Options{Scheme: s.Client.Scheme()})
	}
	if err == nil {
		err = b.run()
	}
	if err != nil {
		fmt.Printf("bench failed: %v (logs in %s)\n", err, s.Dir)
		_ = s.Stop()
		os.Exit(1)
	}
	fmt.Printf("\nSummary (time scale %g, logs in %s)\n", *timeScale, s.Dir)
	for _, l := range b.lines {
		fmt.Println("  " + l)
	}
	if b.miss > 0 {
		fmt.Printf("%d figure(s) missed their target\n", b.miss)
		_ = s.Stop()
		os.Exit(1)
	}
}

// report prints one figure with its target.
func (b *bench) report(name, value, target string, ok bool) {
	verdict := "ok"
	if !ok {
		verdict, b.miss = "MISS", b.miss+1
	}
	line := fmt.Sprintf("%-62s %-22s target %-14s %s", name, value, target, verdict)
	b.lines = append(b.lines, line)
	fmt.Println(line)
}

// window is bunq's 3 s rate-limit window at the bench's time scale.
func window() time.Duration { return time.Duration(float64(3*time.Second) / *timeScale) }

func (b *bench) run() error {
	for _, name := range []string{ns, "noise", "bunq-pinning-system"} {
		if err := b.c.Create(b.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
			return err
		}
	}
	for name, key := range map[string]string{"rotation-key": rotationKey, "fleet-key": fleetKey} {
		if err := b.c.Create(b.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Data: map[string][]byte{"api-key": []byte(key)}}); err != nil {
			return err
		}
	}
	if err := b.startManager("10m"); err != nil {
		return err
	}
	time.Sleep(window()) // a new process waits out one window by design
	all := map[string]func() error{"rotation": b.rotation, "cold": b.coldStart, "steady": b.steadyState,
		"restart": b.restart, "drift": b.drift, "memory": b.memory, "endpoints": b.endpoints, "budget": b.budget,
		"wildcard": b.wildcard, "flipper": b.flipper, "refused": b.refused, "scale": b.scale}
	for _, name := range strings.Split(*phases, ",") {
		phase, ok := all[name]
		if !ok {
			return fmt.Errorf("unknown phase %q", name)
		}
		if err := phase(); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) startManager(resync string, extra ...string) error {
	args := []string{"--bunq-time-scale", fmt.Sprint(*timeScale), "--resync-period", resync}
	if *pprofAddr != "" {
		args = append(args, "--pprof-bind-address", *pprofAddr)
	}
	cmd, err := b.s.StartOperatorProcess(append(args, extra...)...)
	b.mgr = cmd
	return err
}

func (b *bench) stopManager() {
	_ = syscall.Kill(-b.mgr.Process.Pid, syscall.SIGTERM)
	_ = b.mgr.Wait()
}

func (b *bench) restartManager(resync string) error {
	b.stopManager()
	return b.startManager(resync)
}

// rss returns the manager's resident and peak memory in MiB.
func (b *bench) rss() (current, peak float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.mgr.Process.Pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			current = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return current, peak
}

type stats struct {
	counts   map[string]int
	statuses map[string]int
}

func (b *bench) stats() stats {
	var st stats
	_, _ = localstack.GetJSON(b.ctx, b.s.BunqURL+"/_emulator/counts", &st.counts)
	_, _ = localstack.GetJSON(b.ctx, b.s.BunqURL+"/_emulator/statuses", &st.statuses)
	return st
}

func (st stats) total() int {
	n := 0
	for _, v := range st.counts {
		n += v
	}
	return n
}

func (st stats) writes() int {
	return st.counts["POST "+bunqtest.EndpointPins] + st.counts["DELETE "+bunqtest.EndpointPin]
}

func diff(after, before stats, key string) int { return after.counts[key] - before.counts[key] }

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// parallel runs f for 0..n-1 on a few goroutines.
func parallel(n int, f func(i int) error) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	return <-errs
}
