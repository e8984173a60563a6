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

package bunqtest

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Listings as bunq pages them: count (default 10, at most 200), older_id and
// newer_id, newest first, and a Pagination object with all three links.

// listReply answers a listing of ids, newest (highest) first, with the page
// the query asks for; item renders one entry.
func listReply(c call, ids []int64, item func(int64) object) reply {
	q := c.r.URL.Query()
	count, err := pageCount(q)
	if err != nil {
		return errorReply(http.StatusBadRequest, err.Error())
	}
	page := pageOf(ids, q, count)
	items := make([]object, len(page))
	for i, id := range page {
		items[i] = item(id)
	}
	links := pageLinks(c.r.URL.Path, q, ids, page, count)
	return okReply(items, func(env map[string]any) { env["Pagination"] = links })
}

func pageCount(q url.Values) (int, error) {
	if q.Get("count") == "" {
		return 10, nil
	}
	n, err := strconv.Atoi(q.Get("count"))
	if err != nil || n < 1 || n > 200 {
		return 0, fmt.Errorf("The count must be between 1 and 200.")
	}
	return n, nil
}

// pageOf picks the page: older than older_id, newer than newer_id, or the newest.
func pageOf(all []int64, q url.Values, count int) []int64 {
	if older, err := strconv.ParseInt(q.Get("older_id"), 10, 64); err == nil {
		i := 0
		for i < len(all) && all[i] >= older {
			i++
		}
		return all[i:min(i+count, len(all))]
	}
	if newer, err := strconv.ParseInt(q.Get("newer_id"), 10, 64); err == nil {
		end := 0
		for end < len(all) && all[end] > newer {
			end++
		}
		return all[max(0, end-count):end]
	}
	return all[:min(count, len(all))]
}

func pageLinks(path string, q url.Values, all, page []int64, count int) object {
	link := func(key string, id int64) string {
		v := url.Values{}
		if q.Get("count") != "" {
			v.Set("count", strconv.Itoa(count))
		}
		v.Set(key, strconv.FormatInt(id, 10))
		return path + "?" + v.Encode()
	}
	links := object{"future_url": nil, "newer_url": nil, "older_url": nil}
	if len(page) == 0 {
		return links
	}
	newest, oldest := page[0], page[len(page)-1]
	if all[len(all)-1] < oldest {
		links["older_url"] = link("older_id", oldest)
	}
	if all[0] > newest {
		links["newer_url"] = link("newer_id", newest)
	} else {
		links["future_url"] = link("newer_id", newest)
	}
	return links
}
