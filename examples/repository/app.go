package main

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"

	"github.com/cachedgo/cached"
)

// app is the program's parts, wired as a service would wire them:
//
//	HTTP handlers → middleware.Cache → countCalls → CachedUserRepo → sqlRepo → SQLite
//
// with one Cache for both tiers. countCalls and the counters of sqlRepo are there only to
// show what the cache saved.
type app struct {
	db      *sql.DB
	c       *cached.Cache
	sql     *sqlRepo    // the database; counts the queries it sends
	repo    *countCalls // what the handlers call; counts the calls
	handler http.Handler
}

// newApp opens the database at path and builds the rest around it, with the HTTP tier
// or without it. Close it when done.
func newApp(ctx context.Context, path string, log *slog.Logger, httpCache bool) (*app, error) {
	db, err := openDB(ctx, path)
	if err != nil {
		return nil, err
	}
	c := cached.New(cached.WithLogger(log))
	store := &sqlRepo{db: db}
	// The handlers see a UserRepo; that it is cached is decided here, once.
	repo := &countCalls{next: NewCachedUserRepo(c, store)}
	return &app{db: db, c: c, sql: store, repo: repo, handler: newServer(c, repo, log, httpCache)}, nil
}

// Close stops the Cache's goroutines, then closes the database. Stop serving first.
func (a *app) Close() error {
	return errors.Join(a.c.Close(), a.db.Close())
}
