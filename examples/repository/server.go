package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/middleware"
	"github.com/go-chi/chi/v5"
)

const (
	// cacheFound is the Cache-Control of a user: the HTTP tier keeps it for a minute,
	// unless a write purges it first.
	cacheFound = "max-age=60"
	// cacheNotFound is the Cache-Control of a 404: shorter, as the repository's negative
	// TTL is, and purged by the write that creates what was missing.
	cacheNotFound = "max-age=10"
	// maxBatch bounds the ids of one GET /users?ids=... request.
	maxBatch = 100
	// maxBody bounds the JSON body of a PUT or POST.
	maxBody = 1 << 16
)

// userTag is the Cache-Tag of the responses that show the user id: by id, by email and
// in batches. It is the repository's tag too (cached:tags user:{id}).
func userTag(id int64) string { return "user:" + strconv.FormatInt(id, 10) }

// emailTag is the Cache-Tag of a 404 for an email: no user, so no user tag, and the write
// that gives a user this email purges it.
func emailTag(email string) string { return "email:" + url.QueryEscape(email) }

// server is the HTTP API on a UserRepo. Its handlers know nothing of the repository's
// cache; they set the Cache-Control and Cache-Tag of what they answer, and purge the
// tags of what they change.
type server struct {
	c    *cached.Cache
	repo UserRepo
	log  *slog.Logger
}

// newServer returns the API's router, every route behind middleware.Cache(c) unless
// httpCache is false (to see what the repository's cache does alone):
//
//	GET  /users/{id}           a user, or 404
//	GET  /users?email=E        the user with email E, or 404
//	GET  /users?ids=1,2,3      the users that exist of these ids, in that order
//	PUT  /users/{id}           sets email and name from {"email": ..., "name": ...}
//	POST /users                creates a user from {"email": ..., "name": ...}: 201
func newServer(c *cached.Cache, repo UserRepo, log *slog.Logger, httpCache bool) http.Handler {
	s := &server{c: c, repo: repo, log: log}
	r := chi.NewRouter()
	if httpCache {
		r.Use(middleware.Cache(c))
	}
	r.Get("/users/{id}", s.getUser)
	r.Get("/users", s.findUsers)
	r.Put("/users/{id}", s.updateUser)
	r.Post("/users", s.createUser)
	return r
}

func (s *server) getUser(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		http.Error(w, "the id is not an integer", http.StatusBadRequest)
		return
	}
	u, err := s.repo.GetUser(r.Context(), id)
	s.answer(w, u, err, userTag(id))
}

func (s *server) findUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Has("email"):
		email := q.Get("email")
		u, err := s.repo.GetUserByEmail(r.Context(), email)
		tag := emailTag(email)
		if err == nil {
			tag = userTag(u.ID)
		}
		s.answer(w, u, err, tag)
	case q.Has("ids"):
		ids, err := parseIDs(q.Get("ids"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		m, err := s.repo.GetUsers(r.Context(), ids)
		if err != nil {
			s.fail(w, err)
			return
		}
		found := make([]*User, 0, len(m))
		tags := make([]string, 0, len(ids))
		seen := make(map[int64]bool, len(ids))
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id] = true
			tags = append(tags, userTag(id)) // missing ids too: a create purges them
			if u, ok := m[id]; ok {
				found = append(found, u)
			}
		}
		writeJSON(w, http.StatusOK, cacheFound, found, tags...)
	default:
		http.Error(w, "give email=... or ids=...", http.StatusBadRequest)
	}
}

// parseIDs reads "1,2,3".
func parseIDs(s string) ([]int64, error) {
	parts := strings.Split(s, ",")
	if len(parts) > maxBatch {
		return nil, fmt.Errorf("at most %d ids", maxBatch)
	}
	ids := make([]int64, len(parts))
	for i, p := range parts {
		id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("id %q is not an integer", p)
		}
		ids[i] = id
	}
	return ids, nil
}

// userInput is the body of a PUT or POST.
type userInput struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

// readInput reads and checks the body: both fields are required, since a PUT replaces
// the user (it is not a patch, so it never reads the user first to merge).
func readInput(w http.ResponseWriter, r *http.Request) (userInput, bool) {
	var in userInput
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&in); err != nil {
		http.Error(w, "the body is not a JSON user: "+err.Error(), http.StatusBadRequest)
		return in, false
	}
	in.Email, in.Name = strings.TrimSpace(in.Email), strings.TrimSpace(in.Name)
	if !strings.Contains(in.Email, "@") || in.Name == "" {
		http.Error(w, `give {"email": "...@...", "name": "..."}`, http.StatusBadRequest)
		return in, false
	}
	return in, true
}

func (s *server) updateUser(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		http.Error(w, "the id is not an integer", http.StatusBadRequest)
		return
	}
	in, ok := readInput(w, r)
	if !ok {
		return
	}
	u := &User{ID: id, Email: in.Email, Name: in.Name}
	if err := s.repo.UpdateUser(r.Context(), u); err != nil {
		s.fail(w, err)
		return
	}
	// The repository's cache is evicted by now (cached:evict); this is the HTTP tier's
	// turn: the user's pages by id, by the old email and in batches carry its tag, and a
	// 404 for the new email carries the email's.
	s.purge(r, userTag(id), emailTag(u.Email))
	writeJSON(w, http.StatusOK, "no-store", u)
}

func (s *server) createUser(w http.ResponseWriter, r *http.Request) {
	in, ok := readInput(w, r)
	if !ok {
		return
	}
	u, err := s.repo.CreateUser(r.Context(), in.Email, in.Name)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.purge(r, userTag(u.ID), emailTag(u.Email))
	w.Header().Set("Location", "/users/"+strconv.FormatInt(u.ID, 10))
	writeJSON(w, http.StatusCreated, "no-store", u)
}

// purge drops the HTTP tier's responses tagged with tags. It is hard: a soft purge would
// serve each purged page once more while it is refreshed, and the page of the old email
// would still show the user to the writer who just changed it. The write has happened
// whatever the purge says, so a failure (of the Bus, in a fleet) is logged, not answered.
func (s *server) purge(r *http.Request, tags ...string) {
	if err := middleware.Purge(r.Context(), s.c, middleware.Target{Tags: tags, Hard: true}); err != nil {
		s.log.Warn("purge after a write failed", "tags", tags, "err", err)
	}
}

// answer writes a user, a 404 or an error. A user and a 404 may be cached, with tag.
func (s *server) answer(w http.ResponseWriter, u *User, err error, tag string) {
	switch {
	case errors.Is(err, ErrNotFound):
		w.Header().Set("Cache-Control", cacheNotFound)
		w.Header().Set("Cache-Tag", tag)
		http.Error(w, "no such user", http.StatusNotFound)
	case err != nil:
		s.fail(w, err)
	default:
		writeJSON(w, http.StatusOK, cacheFound, u, tag)
	}
}

// fail answers a repository error: 404, 409, or 500 (logged, and never stored: 500 is
// not a cacheable status).
func (s *server) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		http.Error(w, "no such user", http.StatusNotFound)
	case errors.Is(err, ErrEmailTaken):
		http.Error(w, "another user has this email", http.StatusConflict)
	default:
		s.log.Error("repository", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

func writeJSON(w http.ResponseWriter, status int, cacheControl string, v any, tags ...string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", cacheControl)
	if len(tags) > 0 {
		h.Set("Cache-Tag", strings.Join(tags, ", "))
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // an error is the client gone: nothing left to tell it
}
