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

// Package chart tests the Helm chart in dist/chart with the real Helm: it
// lints, renders what dist/install.yaml installs, and installs, upgrades and
// uninstalls on a local API server, where an operator holding only the
// chart's namespaced RBAC serves its namespace.
package chart

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const chartDir = "../../dist/chart"

// helm runs bin/helm and fails the test when it fails.
func helm(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runHelm(args...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func runHelm(args ...string) (string, error) {
	bin, err := filepath.Abs("../../bin/helm")
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(bin); err != nil {
		return "", errors.New("bin/helm is missing: run `make test-chart`, which builds it")
	}
	cmd := exec.Command(bin, args...)
	// Helm keeps its caches and repositories away from the user's own.
	home := os.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "helm-cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "helm-config"), "HELM_DATA_HOME="+filepath.Join(home, "helm-data"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

func TestChartLints(t *testing.T) {
	helm(t, "lint", "--strict", chartDir)
	helm(t, "lint", "--strict", chartDir, "--set", "watchNamespaces={payments,billing}",
		"--set", "metrics.serviceMonitor.enabled=true", "--set", "metrics.prometheusRule.enabled=true",
		"--set", "podDisruptionBudget.enabled=true", "--set", "replicas=2")
}

func TestChartRefusesBadValues(t *testing.T) {
	for _, set := range []string{"image.tag=latest", "watchNamespaces={Payments}", "resyncPeriod=hourly", "replica=2", "bunq.rateBudget=1.5"} {
		if out, err := runHelm("template", "x", chartDir, "--set", set); err == nil {
			t.Errorf("helm template --set %s was accepted:\n%.300s", set, out)
		}
	}
}

func TestChartPassesTheRateBudget(t *testing.T) {
	out := helm(t, "template", "x", chartDir, "--set", "bunq.rateBudget=0.5")
	if !strings.Contains(out, "- --bunq-rate-budget=0.5\n") {
		t.Errorf("bunq.rateBudget=0.5 does not reach the manager's arguments:\n%s", out)
	}
}

// TestChartRendersTheInstaller: with default values the chart renders the
// objects of dist/install.yaml, but for labels and the Namespace, which
// `helm install --create-namespace` makes.
func TestChartRendersTheInstaller(t *testing.T) {
	rendered := objects(t, helm(t, "template", "bunq-pinning-operator", chartDir, "-n", "bunq-pinning-system", "--include-crds"))
	data, err := os.ReadFile("../../dist/install.yaml")
	if err != nil {
		t.Fatal(err)
	}
	installed := objects(t, string(data))
	delete(installed, "Namespace//bunq-pinning-system")
	for key, want := range installed {
		got, ok := rendered[key]
		if !ok {
			t.Errorf("the chart does not render %s", key)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			g, _ := yaml.Marshal(got)
			w, _ := yaml.Marshal(want)
			t.Errorf("%s differs from dist/install.yaml's\nchart:\n%s\ninstall.yaml:\n%s", key, g, w)
		}
	}
	for key := range rendered {
		if _, ok := installed[key]; !ok {
			t.Errorf("the chart renders %s, which dist/install.yaml does not hold", key)
		}
	}
}

// objects decodes a multi-document manifest into objects by kind, namespace
// and name, without their labels.
func objects(t *testing.T, manifest string) map[string]map[string]any {
	t.Helper()
	objs := map[string]map[string]any{}
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			return objs
		} else if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if obj == nil {
			continue
		}
		meta, _ := obj["metadata"].(map[string]any)
		delete(meta, "labels")
		key := obj["kind"].(string) + "/" + str(meta["namespace"]) + "/" + str(meta["name"])
		if _, dup := objs[key]; dup {
			t.Errorf("%s appears twice", key)
		}
		objs[key] = obj
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
