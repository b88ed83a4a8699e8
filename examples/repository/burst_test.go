package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
)

// TestBurst sends a skewed burst of concurrent GETs, with the HTTP tier in front and
// without it, and checks the bounds that follow from the caches' contracts, none of
// which holds without them:
//
//   - the HTTP tier runs the handler (and so calls the repository) at most once per
//     distinct URL: concurrent misses of a URL share one run, and later requests hit;
//   - the repository's cache loads each email at most once (GetUserByEmail queries ≤
//     distinct emails) and each id at most once, whether GetUser or a GetUsers batch
//     asks for it, since both share the cached function "user" and its flights
//     (GetUser queries + ids read by GetUsers queries ≤ distinct ids);
//   - so the queries are at most the distinct keys, which for this workload is under
//     a third of the requests.
//
// Nothing is written during the burst and it lasts far less than the shortest TTL (the
// 10s of a 404 in the HTTP tier), so no entry can expire or be invalidated within it.
func TestBurst(t *testing.T) {
	for _, httpCache := range []bool{true, false} {
		t.Run(fmt.Sprintf("httpcache=%v", httpCache), func(t *testing.T) {
			e := newEnvHTTP(t, 300, httpCache)
			wl, err := newWorkload(context.Background(), e.a.db, 3000, 42)
			if err != nil {
				t.Fatal(err)
			}
			keys := len(wl.ids) + len(wl.emails)
			if requests := len(wl.paths); keys*3 >= requests {
				t.Fatalf("the workload asks for %d distinct keys in %d requests; want it skewed to under a third", keys, requests)
			}

			before := e.a.tally()
			res, err := runBurst(context.Background(), e.srv.Client(), e.srv.URL, wl, 32)
			if err != nil {
				t.Fatal(err)
			}
			if n := res.statuses[http.StatusOK] + res.statuses[http.StatusNotFound]; n != len(wl.paths) {
				t.Errorf("statuses %v; want only 200 and 404, %d in all", res.statuses, len(wl.paths))
			}
			if res.statuses[http.StatusNotFound] == 0 {
				t.Errorf("statuses %v; want some 404s (the workload asks for missing users)", res.statuses)
			}
			d := e.a.tally().sub(before)

			var calls int64
			for k := range numKinds {
				m := kindMethods[k]
				calls += d.calls[m]
				if httpCache && d.calls[m] > int64(wl.distinct(k)) {
					t.Errorf("%s: %d repository calls for %d distinct URLs; want at most one per URL", kindNames[k], d.calls[m], wl.distinct(k))
				}
				if !httpCache && d.calls[m] != int64(wl.requests[k]) {
					t.Errorf("%s without the HTTP tier: %d repository calls for %d requests; want one each", kindNames[k], d.calls[m], wl.requests[k])
				}
			}
			if q := d.queries[mGetUserByEmail]; q > int64(len(wl.emails)) {
				t.Errorf("GetUserByEmail: %d queries for %d distinct emails; want each loaded at most once", q, len(wl.emails))
			}
			if loaded := d.queries[mGetUser] + d.idsRead; loaded > int64(len(wl.ids)) {
				t.Errorf("ids loaded: %d by GetUser + %d by GetUsers for %d distinct ids; want each loaded at most once",
					d.queries[mGetUser], d.idsRead, len(wl.ids))
			}
			var queries int64
			for _, q := range d.queries {
				queries += q
			}
			if queries > int64(keys) {
				t.Errorf("%d queries for %d requests over %d distinct keys; want at most one per key", queries, len(wl.paths), keys)
			}
			t.Logf("%d requests, %d distinct URLs, %d repository calls, %d queries, %d distinct keys",
				len(wl.paths), wl.distinct(byID)+wl.distinct(byEmail)+wl.distinct(batch), calls, queries, keys)
		})
	}
}

// TestWorkloadSeeded: the same seed draws the same requests, another seed others.
func TestWorkloadSeeded(t *testing.T) {
	e := newEnv(t, 50)
	ctx := context.Background()
	a, err := newWorkload(ctx, e.a.db, 200, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newWorkload(ctx, e.a.db, 200, 1)
	c, _ := newWorkload(ctx, e.a.db, 200, 2)
	if !slices.Equal(a.paths, b.paths) {
		t.Error("two workloads of seed 1 differ")
	}
	if slices.Equal(a.paths, c.paths) {
		t.Error("the workloads of seeds 1 and 2 are the same")
	}
	if a.requests[byID] == 0 || a.requests[byEmail] == 0 || a.requests[batch] == 0 {
		t.Errorf("requests by kind %v; want some of each", a.requests)
	}
}
