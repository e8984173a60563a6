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

// Package docs runs the shell blocks of the README and docs/ as a user would,
// in order and as written, against a local control plane with the bunq
// emulator, and compares the output they document.
package docs

import (
	"bufio"
	"os"
	"regexp"
	"strings"
)

// block is one fenced shell block of a page.
type block struct {
	line   int    // where it starts
	script string // its text, run with bash
	skip   string // why it is not run ("docs-test: not run: <why>")
	fresh  bool   // "docs-test: fresh": a new control plane before it
	output string // a text block right after it: what its last command prints
}

var marker = regexp.MustCompile(`<!--\s*docs-test:\s*(.*?)\s*-->`)

// parse reads the sh blocks of a Markdown page with their markers (an HTML
// comment on the line before the fence) and documented output.
func parse(path string) ([]block, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		blocks     []block
		pending    string // the marker seen just before a fence
		fence      string // the language of the open fence, "" outside one
		body       []string
		start      int
		afterShell bool // only blank lines since the last sh block closed
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case fence == "" && strings.HasPrefix(line, "```"):
			fence, body, start = strings.TrimPrefix(line, "```"), nil, n
		case fence != "" && strings.TrimSpace(line) == "```":
			text := strings.Join(body, "\n") + "\n"
			switch {
			case fence == "sh":
				b := block{line: start, script: text}
				if m := marker.FindStringSubmatch(pending); m != nil {
					if why, ok := strings.CutPrefix(m[1], "not run:"); ok {
						b.skip = strings.TrimSpace(why)
					}
					b.fresh = m[1] == "fresh"
				}
				blocks = append(blocks, b)
			case fence == "text" && afterShell:
				blocks[len(blocks)-1].output = text
			}
			afterShell = fence == "sh"
			fence, pending = "", ""
		case fence != "":
			body = append(body, line)
		case strings.TrimSpace(line) == "":
		default:
			pending, afterShell = line, false
		}
	}
	return blocks, sc.Err()
}

// commands counts the command lines of a script (not comments, not blank).
func commands(script string) int {
	n := 0
	for _, line := range strings.Split(script, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			n++
		}
	}
	return n
}

// matches compares a command's output with what a page documents, line by
// line from the end, field by field; a documented field holding a digit (an
// id, a date, an age) stands for any value.
func matches(documented, got string) bool {
	want := lines(documented)
	have := lines(got)
	if len(have) < len(want) {
		return false
	}
	have = have[len(have)-len(want):]
	for i := range want {
		w, h := strings.Fields(want[i]), strings.Fields(have[i])
		if len(w) != len(h) {
			return false
		}
		for j := range w {
			if w[j] != h[j] && !strings.ContainsAny(w[j], "0123456789") {
				return false
			}
		}
	}
	return true
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}
