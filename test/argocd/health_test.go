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

// Package argocd tests the Argo CD health check in config/argocd.
package argocd

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

const dir = "../../config/argocd"

type healthTest struct {
	Tests []struct {
		HealthStatus struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"healthStatus"`
		InputPath string `json:"inputPath"`
	} `json:"tests"`
}

// TestHealthCheck runs every case of health_test.yaml the way Argo CD runs a
// health script: a VM with only the package, base and table libraries and a
// safe os, the object as the global obj, and a one-second limit.
func TestHealthCheck(t *testing.T) {
	script, err := os.ReadFile(filepath.Join(dir, "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "health_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cases healthTest
	if err := yaml.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases.Tests) < 10 {
		t.Fatalf("only %d cases in health_test.yaml", len(cases.Tests))
	}
	for _, c := range cases.Tests {
		t.Run(c.InputPath, func(t *testing.T) {
			obj := map[string]any{}
			data, err := os.ReadFile(filepath.Join(dir, c.InputPath))
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(data, &obj); err != nil {
				t.Fatal(err)
			}
			status, message, err := runHealth(string(script), obj)
			if err != nil {
				t.Fatal(err)
			}
			if status != c.HealthStatus.Status || message != c.HealthStatus.Message {
				t.Errorf("got %s %q, want %s %q", status, message, c.HealthStatus.Status, c.HealthStatus.Message)
			}
		})
	}
}

func TestEveryTestdataFileIsACase(t *testing.T) {
	raw, _ := os.ReadFile(filepath.Join(dir, "health_test.yaml"))
	var cases healthTest
	if err := yaml.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, c := range cases.Tests {
		used[c.InputPath] = true
	}
	files, _ := filepath.Glob(filepath.Join(dir, "testdata", "*.yaml"))
	for _, f := range files {
		if rel, _ := filepath.Rel(dir, f); !used[rel] {
			t.Errorf("%s is not used by health_test.yaml", rel)
		}
	}
}

func runHealth(script string, obj map[string]any) (status, message string, err error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		l.Push(l.NewFunction(lib.open))
		l.Push(lua.LString(lib.name))
		l.Call(1, 0)
	}
	l.PreloadModule("os", safeOS)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return "", "", err
	}
	result, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return "", "", errNoTable
	}
	return lua.LVAsString(result.RawGetString("status")), lua.LVAsString(result.RawGetString("message")), nil
}

type luaError string

func (e luaError) Error() string { return string(e) }

const errNoTable = luaError("the script did not return a table")

// safeOS is the os module Argo CD allows: time and date only.
func safeOS(l *lua.LState) int {
	mod := l.SetFuncs(l.NewTable(), map[string]lua.LGFunction{
		"time": func(l *lua.LState) int { l.Push(lua.LNumber(time.Now().Unix())); return 1 },
		"date": func(l *lua.LState) int { l.Push(lua.LString(time.Now().UTC().Format(time.RFC3339))); return 1 },
	})
	l.Push(mod)
	return 1
}

// toLua converts decoded YAML into Lua values as Argo CD does for obj.
func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		t := l.NewTable()
		for k, item := range v {
			t.RawSetString(k, toLua(l, item))
		}
		return t
	case []any:
		t := l.NewTable()
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case nil:
		return lua.LNil
	}
	return lua.LString("")
}
