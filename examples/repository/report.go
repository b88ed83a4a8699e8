package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cachedgo/cached"
)

// tally is what the counters said at one moment.
type tally struct {
	calls, queries [numMethods]int64
	idsAsked       int64 // ids the handlers asked GetUsers for
	idsRead        int64 // ids GetUsers asked the database for
}

func (a *app) tally() tally {
	return tally{
		calls:    a.repo.calls.snapshot(),
		queries:  a.sql.queries.snapshot(),
		idsAsked: a.repo.idsAsked.Load(),
		idsRead:  a.sql.idsRead.Load(),
	}
}

// sub returns the counts from before to t.
func (t tally) sub(before tally) tally {
	d := tally{idsAsked: t.idsAsked - before.idsAsked, idsRead: t.idsRead - before.idsRead}
	for m := range numMethods {
		d.calls[m] = t.calls[m] - before.calls[m]
		d.queries[m] = t.queries[m] - before.queries[m]
	}
	return d
}

// report prints what the burst cost each tier: requests, the handler runs the HTTP tier
// let through (each calls the repository once), and the queries the repository's cache
// let through.
func report(w io.Writer, wl *workload, res burstResult, d tally, clients int, httpCache bool) {
	codes := slices.Sorted(maps.Keys(res.statuses))
	statuses := make([]string, len(codes))
	for i, code := range codes {
		statuses[i] = fmt.Sprintf("%d × %d", res.statuses[code], code)
	}
	fmt.Fprintf(w, "\nburst: %d GET requests, %d at a time, in %v: %s\n",
		len(wl.paths), clients, res.elapsed.Round(time.Millisecond), strings.Join(statuses, ", "))
	fmt.Fprintf(w, "  for %d distinct URLs, %d distinct ids and %d distinct emails\n\n",
		wl.distinct(byID)+wl.distinct(byEmail)+wl.distinct(batch), len(wl.ids), len(wl.emails))

	const row = "  %-18s %8v   %-15s %8v %8v\n"
	fmt.Fprintf(w, row, "", "HTTP", "", "repository", "SQL")
	fmt.Fprintf(w, row, "request", "requests", "method", "calls", "queries")
	var requests, calls, queries int64
	for k := range numKinds {
		m := kindMethods[k]
		fmt.Fprintf(w, row, kindNames[k], wl.requests[k], m, d.calls[m], d.queries[m])
		requests += int64(wl.requests[k])
		calls += d.calls[m]
		queries += d.queries[m]
	}
	fmt.Fprintf(w, row, "all", requests, "", calls, queries)
	if httpCache {
		fmt.Fprintf(w, "\n  the HTTP tier answered %d of %d requests; the other %d called the repository,\n", requests-calls, requests, calls)
	} else {
		fmt.Fprintf(w, "\n  no HTTP tier (-httpcache=false): each of the %d requests called the repository,\n", requests)
	}
	fmt.Fprintf(w, "  whose cache let %d queries through (%.0f%% of its calls)\n", queries, 100*float64(queries)/float64(max(calls, 1)))
	fmt.Fprintf(w, "  GetUsers: the handlers asked for %d ids, the database was asked for %d\n", d.idsAsked, d.idsRead)
}

// statsNames are the functions whose counters the example prints, in this order.
var statsNames = []string{"/users/{id}", "/users", "user", "userByEmail"}

// printStats prints the Cache's counters: the HTTP tier's routes, the repository's
// cached functions, and any other function the Cache has (the tag records).
func printStats(w io.Writer, s cached.Stats) {
	names := slices.Clone(statsNames)
	var others []string
	for name := range s.Funcs {
		if !slices.Contains(names, name) {
			others = append(others, name)
		}
	}
	slices.Sort(others)
	names = append(names, others...)

	fmt.Fprintln(w, "\nc.Stats(), the Cache's counters by function:")
	const row = "  %-12s %6v %7v %6v %10v %14v %12v\n"
	fmt.Fprintf(w, row, "function", "hits", "misses", "loads", "coalesced", "negative hits", "load errors")
	for _, name := range names {
		if st, ok := s.Funcs[name]; ok {
			fmt.Fprintf(w, row, name, st.Hits, st.Misses, st.Loads, st.Coalesced, st.NegativeHits, st.LoadErrors)
		}
	}
}
