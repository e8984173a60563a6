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

// Package alerts unit-tests the PrometheusRule in config/prometheus with
// promtool: each alert fires when it should, and only then.
package alerts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pinq-dev/bunq-pinning-operator/test/localstack"
	"sigs.k8s.io/yaml"
)

func TestAlertRules(t *testing.T) {
	promtool, err := filepath.Abs("../../bin/promtool")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(promtool); err != nil {
		t.Fatalf("bin/promtool is missing: run `make test-alerts`, which builds it")
	}
	dir := t.TempDir()
	writeRuleFile(t, "../../config/prometheus/rules.yaml", filepath.Join(dir, "alerts.rules.yaml"))
	tests, err := os.ReadFile("../../config/prometheus/rules_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules_test.yaml"), tests, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"check", "rules", "alerts.rules.yaml"},
		{"test", "rules", "rules_test.yaml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		t.Logf("promtool %v:\n%s", args, out)
		if err != nil {
			t.Errorf("promtool %v: %v", args, err)
		}
	}
}

// writeRuleFile writes a PrometheusRule's spec as a plain Prometheus rule file.
func writeRuleFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	var rule struct {
		Kind string         `json:"kind"`
		Spec map[string]any `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &rule); err != nil {
		t.Fatal(err)
	}
	if rule.Kind != "PrometheusRule" || rule.Spec["groups"] == nil {
		t.Fatalf("%s is not a PrometheusRule with groups", from)
	}
	spec, err := yaml.Marshal(rule.Spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, spec, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPrometheusKustomization: `kubectl apply -k config/prometheus` (in
// docs/operations.md) builds the ServiceMonitor and the rules for the
// operator's namespace.
func TestPrometheusKustomization(t *testing.T) {
	out, err := exec.Command(localstack.Kubectl(), "kustomize", "../../config/prometheus").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize config/prometheus: %v\n%s", err, out)
	}
	for _, want := range []string{"kind: PrometheusRule", "name: bunq-pinning-alerts", "kind: ServiceMonitor",
		"namespace: bunq-pinning-system"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kubectl kustomize config/prometheus lacks %q:\n%s", want, out)
		}
	}
}
