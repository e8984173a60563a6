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

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// getTable prints resources as `kubectl get` does: the API server renders the
// CRD's printer columns as a Table.
func getTable(cfg *rest.Config, namespace string) error {
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	url := strings.TrimSuffix(cfg.Host, "/") + "/apis/bunq.pinq.dev/v1alpha1/namespaces/" + namespace + "/bunqpinnedcertificates"
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	table := &metav1.Table{}
	if err := json.NewDecoder(resp.Body).Decode(table); err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 3, ' ', 0)
	var header []string
	var shown []int
	for i, c := range table.ColumnDefinitions {
		if c.Priority == 0 {
			header = append(header, strings.ToUpper(c.Name))
			shown = append(shown, i)
		}
	}
	fmt.Fprintln(w, "    $ kubectl get bpc -n "+namespace)
	fmt.Fprintln(w, "    "+strings.Join(header, "\t"))
	for _, row := range table.Rows {
		var cells []string
		for _, i := range shown {
			cells = append(cells, fmt.Sprint(orNone(row.Cells[i])))
		}
		fmt.Fprintln(w, "    "+strings.Join(cells, "\t"))
	}
	return w.Flush()
}

func orNone(v any) any {
	switch n := v.(type) {
	case nil:
		return "<none>"
	case string:
		if n == "" {
			return "<none>"
		}
	case float64:
		// JSON numbers decode as float64; bunq ids are integers.
		if n == float64(int64(n)) {
			return int64(n)
		}
	}
	return v
}
