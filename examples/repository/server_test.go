package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// env is the example's app on a fresh database of seeded users, served by a test server.
type env struct {
	t   *testing.T
	a   *app
	srv *httptest.Server
}

func newEnv(t *testing.T, users int) *env { return newEnvHTTP(t, users, true) }

// newEnvHTTP is newEnv with the HTTP tier or without it.
func newEnvHTTP(t *testing.T, users int, httpCache bool) *env {
	t.Helper()
	ctx := context.Background()
	a, err := newApp(ctx, filepath.Join(t.TempDir(), "users.db"), quietLog(), httpCache)
	if err != nil {
		t.Fatal(err)
	}
	if err := seed(ctx, a.db, users); err != nil {
		a.Close()
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.handler)
	t.Cleanup(func() {
		srv.Close() // waits for the handlers, then the Cache and the database
		if err := a.Close(); err != nil {
			t.Error(err)
		}
	})
	return &env{t: t, a: a, srv: srv}
}

// do sends a request (body, if not nil, as JSON) and reads the whole response.
func (e *env) do(method, path string, body any) response {
	e.t.Helper()
	r, err := do(context.Background(), e.srv.Client(), method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// user sends GET path and returns the user it answers, failing unless it is 200.
func (e *env) user(path string) User {
	e.t.Helper()
	r := e.do("GET", path, nil)
	var u User
	if err := json.Unmarshal(r.body, &u); r.status != http.StatusOK || err != nil {
		e.t.Fatalf("GET %s: %d %q; want 200 and a user", path, r.status, r.body)
	}
	return u
}

// status sends a request and fails unless it answers want.
func (e *env) status(method, path string, body any, want int) response {
	e.t.Helper()
	r := e.do(method, path, body)
	if r.status != want {
		e.t.Fatalf("%s %s: %d %q; want %d", method, path, r.status, r.body, want)
	}
	return r
}

// queries returns the queries sent since before, by method.
func (e *env) queries(before tally) [numMethods]int64 { return e.a.tally().sub(before).queries }

// TestUpdateEmail: after a PUT that changes a user's email, both tiers serve the new
// data by id, by the new email (a 404 until then, cached in both tiers) and in a batch,
// and the old email answers 404, though each of those answers was cached before the
// write. The new state is cached in turn: reading it again issues no query.
func TestUpdateEmail(t *testing.T) {
	e := newEnv(t, 10)
	const old, moved = "user5@example.com", "ada@example.net"
	reads := []string{"/users/5", emailPath(old), "/users?ids=5,6"}
	for _, p := range reads {
		e.status("GET", p, nil, http.StatusOK)
	}
	e.status("GET", emailPath(moved), nil, http.StatusNotFound)
	for _, p := range append(reads, emailPath(moved)) { // all cached now, in both tiers
		if r := e.do("GET", p, nil); !strings.HasPrefix(r.cacheStatus, "cached; hit") {
			t.Fatalf("GET %s before the update: Cache-Status %q; want a hit", p, r.cacheStatus)
		}
	}

	want := User{ID: 5, Email: moved, Name: "Ada Lovelace"}
	e.status("PUT", "/users/5", userInput{Email: want.Email, Name: want.Name}, http.StatusOK)

	before := e.a.tally()
	for _, p := range []string{"/users/5", emailPath(moved)} {
		if got := e.user(p); got != want {
			t.Errorf("GET %s after the update: %+v; want %+v", p, got, want)
		}
	}
	var batch []User
	if r := e.status("GET", "/users?ids=5,6", nil, http.StatusOK); json.Unmarshal(r.body, &batch) != nil || len(batch) != 2 || batch[0] != want {
		t.Errorf("GET /users?ids=5,6 after the update: %s; want user 5 as %+v first", r.body, want)
	}
	e.status("GET", emailPath(old), nil, http.StatusNotFound)
	// The tag evicted user 5 by id and by the old email; the evict of the new email
	// dropped its cached 404. Each is loaded again, once; the batch finds user 5 as the
	// read by id reloaded it, and user 6 as it was.
	if q := e.queries(before); q[mGetUser] != 1 || q[mGetUserByEmail] != 2 || q[mGetUsers] != 0 {
		t.Errorf("queries after the update: %v; want GetUser 1, GetUserByEmail 2 (new and old email), GetUsers 0", q)
	}

	before = e.a.tally()
	for _, p := range []string{"/users/5", emailPath(moved), "/users?ids=5,6", emailPath(old)} {
		if r := e.do("GET", p, nil); !strings.HasPrefix(r.cacheStatus, "cached; hit") {
			t.Errorf("GET %s again: Cache-Status %q; want a hit", p, r.cacheStatus)
		}
	}
	if q := e.queries(before); q != ([numMethods]int64{}) {
		t.Errorf("reading the new state again sent queries %v; want none", q)
	}
}

// TestUpdateRepositoryTier is TestUpdateEmail without the HTTP tier: the decorator alone
// serves the new email and forgets the old one.
func TestUpdateRepositoryTier(t *testing.T) {
	e := newEnv(t, 10)
	ctx := context.Background()
	repo := e.a.repo
	if _, err := repo.GetUserByEmail(ctx, "user3@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.GetUserByEmail(ctx, "grace@example.net"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetUserByEmail(a free email) = %v; want ErrNotFound", err)
	}
	if err := repo.UpdateUser(ctx, &User{ID: 3, Email: "grace@example.net", Name: "Grace Hopper"}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.GetUserByEmail(ctx, "user3@example.com"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetUserByEmail(the old email) = %v; want ErrNotFound", err)
	}
	if u, err := repo.GetUserByEmail(ctx, "grace@example.net"); err != nil || u.ID != 3 {
		t.Errorf("GetUserByEmail(the new email) = %+v, %v; want user 3", u, err)
	}
	if u, err := repo.GetUser(ctx, 3); err != nil || u.Email != "grace@example.net" {
		t.Errorf("GetUser(3) = %+v, %v; want the new email", u, err)
	}
}

// TestCreateThenGet: a POST stores the new user as the cached value of its id, so
// reading it back by id issues no query, and drops the 404 cached for its email.
func TestCreateThenGet(t *testing.T) {
	e := newEnv(t, 10)
	const email = "radia@example.net"
	e.status("GET", emailPath(email), nil, http.StatusNotFound) // cached, in both tiers

	before := e.a.tally()
	r := e.status("POST", "/users", userInput{Email: email, Name: "Radia Perlman"}, http.StatusCreated)
	var created User
	if err := json.Unmarshal(r.body, &created); err != nil || created.ID == 0 {
		t.Fatalf("POST answered %q", r.body)
	}
	want := User{ID: created.ID, Email: email, Name: "Radia Perlman"}
	if got := e.user("/users/" + strconv.FormatInt(created.ID, 10)); got != want {
		t.Errorf("GET by id: %+v; want %+v", got, want)
	}
	if q := e.queries(before); q[mCreateUser] != 1 || q[mGetUser] != 0 || q[mGetUsers] != 0 {
		t.Errorf("queries: %v; want the INSERT only: the new user was put in the cache", q)
	}
	if got := e.user(emailPath(email)); got != want {
		t.Errorf("GET by email after the POST: %+v; want %+v", got, want)
	}

	before = e.a.tally()
	e.status("POST", "/users", userInput{Email: email, Name: "Someone Else"}, http.StatusConflict)
	if got := e.user("/users/" + strconv.FormatInt(created.ID, 10)); got != want {
		t.Errorf("GET by id after a refused POST: %+v; want %+v", got, want)
	}
	if q := e.queries(before); q[mCreateUser] != 1 || q[mGetUser] != 0 {
		t.Errorf("queries: %v; want the refused INSERT only", q)
	}
}

// TestBatch: a batch and single reads by id share the cached function "user": ids one
// loaded are hits for the other, and a batch asks the database only for the ids not
// cached, ids that do not exist included, which are then cached as not found.
func TestBatch(t *testing.T) {
	e := newEnv(t, 10)
	idsOf := func(path string) []int64 {
		t.Helper()
		var us []User
		r := e.status("GET", path, nil, http.StatusOK)
		if err := json.Unmarshal(r.body, &us); err != nil {
			t.Fatalf("GET %s: %q", path, r.body)
		}
		var ids []int64
		for _, u := range us {
			ids = append(ids, u.ID)
		}
		return ids
	}

	before := e.a.tally()
	if got := idsOf("/users?ids=1,2"); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("ids=1,2 answered users %v", got)
	}
	e.user("/users/1")
	d := e.a.tally().sub(before)
	if d.queries[mGetUsers] != 1 || d.idsRead != 2 || d.queries[mGetUser] != 0 {
		t.Errorf("ids=1,2 then user 1: %v queries, %d ids read; want one GetUsers for 2 ids and no GetUser", d.queries, d.idsRead)
	}

	e.user("/users/3")
	before = e.a.tally()
	if got := idsOf("/users?ids=3,1,4,99,2,4"); !slices.Equal(got, []int64{3, 1, 4, 2}) {
		t.Errorf("ids=3,1,4,99,2,4 answered users %v; want 3, 1, 4, 2 (99 does not exist, 4 once)", got)
	}
	d = e.a.tally().sub(before)
	if d.queries[mGetUsers] != 1 || d.idsRead != 2 {
		t.Errorf("ids=3,1,4,99,2,4 with 1, 2 and 3 cached: %d queries for %d ids; want 1 for 2 (4 and 99)", d.queries[mGetUsers], d.idsRead)
	}

	before = e.a.tally()
	e.status("GET", "/users/99", nil, http.StatusNotFound)
	e.user("/users/4")
	if q := e.queries(before); q[mGetUser] != 0 {
		t.Errorf("users 99 and 4 after the batch loaded them: %d GetUser queries; want 0", q[mGetUser])
	}
}

// TestCountPassesThrough: Count has no annotation, so each call is a query.
func TestCountPassesThrough(t *testing.T) {
	e := newEnv(t, 7)
	before := e.a.tally()
	for range 3 {
		if n, err := e.a.repo.Count(context.Background()); err != nil || n != 7 {
			t.Fatalf("Count() = %d, %v; want 7", n, err)
		}
	}
	if d := e.a.tally().sub(before); d.calls[mCount] != 3 || d.queries[mCount] != 3 {
		t.Errorf("3 calls of Count: %d calls, %d queries counted; want 3 and 3", d.calls[mCount], d.queries[mCount])
	}
}

// TestBadRequests: malformed requests are 400s, PUT of a missing user 404, a taken email
// 409, and none of them changes anything.
func TestBadRequests(t *testing.T) {
	e := newEnv(t, 3)
	tooMany := strings.TrimSuffix(strings.Repeat("1,", maxBatch+1), ",")
	for _, tc := range []struct {
		name, method, path string
		body               any
		want               int
	}{
		{"id not a number", "GET", "/users/x", nil, http.StatusBadRequest},
		{"no query", "GET", "/users", nil, http.StatusBadRequest},
		{"id in a batch not a number", "GET", "/users?ids=1,x", nil, http.StatusBadRequest},
		{"too many ids", "GET", "/users?ids=" + tooMany, nil, http.StatusBadRequest},
		{"body not JSON", "PUT", "/users/1", "not an object", http.StatusBadRequest},
		{"no name", "PUT", "/users/1", userInput{Email: "a@b"}, http.StatusBadRequest},
		{"email without @", "POST", "/users", userInput{Email: "ab", Name: "A"}, http.StatusBadRequest},
		{"missing user", "PUT", "/users/42", userInput{Email: "a@b", Name: "A"}, http.StatusNotFound},
		{"email taken", "PUT", "/users/1", userInput{Email: "user2@example.com", Name: "A"}, http.StatusConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := e.do(tc.method, tc.path, tc.body); r.status != tc.want {
				t.Errorf("%s %s: %d %q; want %d", tc.method, tc.path, r.status, r.body, tc.want)
			}
		})
	}
	if got := e.user("/users/1"); got.Email != "user1@example.com" {
		t.Errorf("user 1 after refused writes: %+v; want it unchanged", got)
	}
}
