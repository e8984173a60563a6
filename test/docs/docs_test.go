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

package docs

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// pages are run in order; each group starts on a control plane of its own.
var pages = []struct {
	name  string
	files []string
}{
	{"readme", []string{"README.md"}},
	{"getting-started", []string{"docs/getting-started.md", "docs/uninstall.md"}},
}

func init() {
	// The control plane's library logs; the blocks' output is what matters here.
	logf.SetLogger(logr.Discard())
}

func TestDocumentedCommands(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, bin := range []string{"manager", "bunq-emulator", "helm"} {
		if _, err := os.Stat(filepath.Join(root, "bin", bin)); err != nil {
			t.Fatalf("bin/%s is missing: run `make test-docs`, which builds it", bin)
		}
	}
	var run, blocks int
	var notRun []string
	for _, page := range pages {
		t.Run(page.name, func(t *testing.T) {
			w := startWorld(t, root)
			for _, file := range page.files {
				bs, err := parse(filepath.Join(root, file))
				if err != nil {
					t.Fatal(err)
				}
				for _, b := range bs {
					where := file + ":" + strconv.Itoa(b.line)
					if b.skip != "" {
						notRun = append(notRun, where+" ("+b.skip+")")
						continue
					}
					if b.fresh {
						w.stop()
						w = startWorld(t, root)
					}
					w.runBlock(t, where, b)
					run += commands(b.script)
					blocks++
				}
			}
			w.stop()
		})
	}
	t.Logf("docs test: %d commands run in %d blocks; %d blocks not run:\n  %s", run, blocks, len(notRun), strings.Join(notRun, "\n  "))
}

// runBlock runs one block with bash, as written, from the repository's root,
// and fails the test when it fails or its documented output differs.
func (w *world) runBlock(t *testing.T, where string, b block) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", b.script)
	cmd.Dir = w.root
	cmd.Env = w.env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	began := time.Now()
	err := cmd.Run()
	t.Logf("%s (%.1fs):\n%s\n%s", where, time.Since(began).Seconds(), indent(b.script, "$ "), indent(out.String(), "  "))
	if err != nil {
		t.Fatalf("%s failed: %v (logs: %s)", where, err, w.stack.Dir)
	}
	if b.output != "" && !matches(b.output, out.String()) {
		t.Fatalf("%s printed\n%s\nbut the page documents\n%s", where, out.String(), b.output)
	}
}

func indent(s, prefix string) string {
	var b strings.Builder
	for _, l := range lines(s) {
		b.WriteString(prefix + l + "\n")
	}
	return b.String()
}
