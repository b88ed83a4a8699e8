package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// kind is a kind of request of the burst.
type kind int

const (
	byID    kind = iota // GET /users/{id}
	byEmail             // GET /users?email=...
	batch               // GET /users?ids=...
	numKinds
)

var kindNames = [numKinds]string{"GET /users/{id}", "GET /users?email=", "GET /users?ids="}

// kindMethods are the repository methods each kind of request calls, once per handler run.
var kindMethods = [numKinds]method{mGetUser, mGetUserByEmail, mGetUsers}

// workload is the burst's requests and what they ask for: the bounds on what the
// caches may load follow from it.
type workload struct {
	paths    []string
	requests [numKinds]int                 // requests of each kind
	urls     [numKinds]map[string]struct{} // distinct URLs of each kind: the HTTP tier's keys
	ids      map[int64]struct{}            // distinct ids asked for, by id and in batches
	emails   map[string]struct{}           // distinct emails asked for
	hottest  int64                         // the id of the most requested user (rank 1)
}

// Distinct returns the number of distinct URLs of kind k.
func (wl *workload) distinct(k kind) int { return len(wl.urls[k]) }

// newWorkload draws n requests over the users in db, skewed as real traffic is: the
// ranks of users follow a Zipf law (s=1.1), so a few users get most of the requests and
// most get a few or none. 55% of requests are by id, 30% by email, 15% batches of 2 to 6
// ids; 3% of ids and emails do not exist. The same seed draws the same requests.
func newWorkload(ctx context.Context, db *sql.DB, n int, seed uint64) (*workload, error) {
	// Read directly, not through the repository: drawing the workload is not part of it.
	rows, err := db.QueryContext(ctx, `SELECT id, email FROM users ORDER BY id`)
	if err != nil {
		return nil, err
	}
	var users []User
	var maxID int64
	for rows.Next() {
		var u User
		if err := rows.Scan(&u.ID, &u.Email); err != nil {
			rows.Close()
			return nil, err
		}
		users = append(users, u)
		maxID = max(maxID, u.ID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("no users to ask for")
	}

	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	rng.Shuffle(len(users), func(i, j int) { users[i], users[j] = users[j], users[i] }) // rank → user
	zipf := rand.NewZipf(rng, 1.1, 1, uint64(len(users)-1))
	pick := func() User {
		if rng.IntN(100) < 3 {
			k := rng.Int64N(20)
			return User{ID: maxID + 1 + k, Email: "nobody" + strconv.FormatInt(k, 10) + "@example.com"}
		}
		return users[zipf.Uint64()]
	}

	wl := &workload{ids: map[int64]struct{}{}, emails: map[string]struct{}{}, hottest: users[0].ID}
	for k := range wl.urls {
		wl.urls[k] = map[string]struct{}{}
	}
	for range n {
		var k kind
		var path string
		switch r := rng.IntN(100); {
		case r < 55:
			k = byID
			u := pick()
			wl.ids[u.ID] = struct{}{}
			path = "/users/" + strconv.FormatInt(u.ID, 10)
		case r < 85:
			k = byEmail
			u := pick()
			wl.emails[u.Email] = struct{}{}
			path = "/users?" + url.Values{"email": {u.Email}}.Encode()
		default:
			k = batch
			ids := make([]string, 2+rng.IntN(5))
			for i := range ids {
				u := pick()
				wl.ids[u.ID] = struct{}{}
				ids[i] = strconv.FormatInt(u.ID, 10)
			}
			path = "/users?ids=" + strings.Join(ids, ",")
		}
		wl.paths = append(wl.paths, path)
		wl.requests[k]++
		wl.urls[k][path] = struct{}{}
	}
	return wl, nil
}

// burstResult is what the burst's clients saw.
type burstResult struct {
	elapsed  time.Duration
	statuses map[int]int
}

// runBurst sends the workload's requests to base, clients at a time, and reads each
// response whole. A transport error ends it; every status is counted.
func runBurst(ctx context.Context, client *http.Client, base string, wl *workload, clients int) (burstResult, error) {
	var (
		next     atomic.Int64
		mu       sync.Mutex // protects statuses and firstErr
		statuses = map[int]int{}
		firstErr error
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	for range max(clients, 1) {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(wl.paths)) || ctx.Err() != nil {
					return
				}
				status, err := get(ctx, client, base+wl.paths[i])
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				statuses[status]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return burstResult{time.Since(start), statuses}, firstErr
}

// get sends a GET and reads the whole response, so that its connection is reused.
func get(ctx context.Context, client *http.Client, u string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}
