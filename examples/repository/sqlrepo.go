package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

const schema = `CREATE TABLE IF NOT EXISTS users (
	id    INTEGER PRIMARY KEY,
	email TEXT NOT NULL UNIQUE,
	name  TEXT NOT NULL
)`

// openDB opens (creating it if need be) the SQLite database at path, with the users
// table. WAL lets readers run while a write commits; the busy timeout makes a writer
// wait for another instead of failing at once.
func openDB(ctx context.Context, path string) (*sql.DB, error) {
	dsn := (&url.URL{Scheme: "file", OmitHost: true, Path: path,
		RawQuery: "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return db, nil
}

// seed inserts n users in one transaction: user1@example.com and so on, with made-up
// names.
func seed(ctx context.Context, db *sql.DB, n int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit, a no-op
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO users (email, name) VALUES (?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	first := []string{"Ada", "Alan", "Barbara", "Dennis", "Edsger", "Frances", "Grace", "Ken", "Leslie", "Radia"}
	last := []string{"Allen", "Hopper", "Kernighan", "Lamport", "Liskov", "Lovelace", "Perlman", "Ritchie", "Thompson", "Turing"}
	for i := 1; i <= n; i++ {
		name := first[i%len(first)] + " " + last[(i/len(first))%len(last)]
		if _, err := stmt.ExecContext(ctx, fmt.Sprintf("user%d@example.com", i), name); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// sqlRepo is the UserRepo on the database: plain database/sql, no cache. It counts the
// statements it sends, by method, so that the example can show what the cache saved. It
// is safe for concurrent use.
type sqlRepo struct {
	db      *sql.DB
	queries counts       // statements sent, by method
	idsRead atomic.Int64 // ids GetUsers asked the database for, over all its queries
}

var _ UserRepo = (*sqlRepo)(nil)

const selectUser = `SELECT id, email, name FROM users `

func (r *sqlRepo) GetUser(ctx context.Context, id int64) (*User, error) {
	r.queries.inc(mGetUser)
	return scanUser(r.db.QueryRowContext(ctx, selectUser+`WHERE id = ?`, id))
}

func (r *sqlRepo) GetUserByEmail(ctx context.Context, email string) (*User, error) {
	r.queries.inc(mGetUserByEmail)
	return scanUser(r.db.QueryRowContext(ctx, selectUser+`WHERE email = ?`, email))
}

// scanUser reads one user, mapping sql.ErrNoRows to the repository's ErrNotFound:
// callers (and the cache's notfound=) depend on the repository's error, not on the
// driver's.
func scanUser(row *sql.Row) (*User, error) {
	var u User
	if err := row.Scan(&u.ID, &u.Email, &u.Name); errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	return &u, nil
}

// GetUsers reads the users with ids in one query. The cache calls it with the ids it
// does not hold, a few at a time; the HTTP handler bounds a request to maxBatch ids, far
// below SQLite's limit on the number of parameters.
func (r *sqlRepo) GetUsers(ctx context.Context, ids []int64) (map[int64]*User, error) {
	r.queries.inc(mGetUsers)
	r.idsRead.Add(int64(len(ids)))
	if len(ids) == 0 {
		return map[int64]*User{}, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	placeholders := strings.Repeat("?,", len(ids))
	rows, err := r.db.QueryContext(ctx, selectUser+`WHERE id IN (`+placeholders[:len(placeholders)-1]+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := make(map[int64]*User, len(ids))
	for rows.Next() {
		var u User
		if err := rows.Scan(&u.ID, &u.Email, &u.Name); err != nil {
			return nil, err
		}
		m[u.ID] = &u
	}
	return m, rows.Err()
}

func (r *sqlRepo) UpdateUser(ctx context.Context, u *User) error {
	r.queries.inc(mUpdateUser)
	res, err := r.db.ExecContext(ctx, `UPDATE users SET email = ?, name = ? WHERE id = ?`, u.Email, u.Name, u.ID)
	if err != nil {
		return mapWriteErr(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return ErrNotFound
	}
	return nil
}

func (r *sqlRepo) CreateUser(ctx context.Context, email, name string) (*User, error) {
	r.queries.inc(mCreateUser)
	res, err := r.db.ExecContext(ctx, `INSERT INTO users (email, name) VALUES (?, ?)`, email, name)
	if err != nil {
		return nil, mapWriteErr(err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return nil, err
	}
	return &User{ID: id, Email: email, Name: name}, nil
}

func (r *sqlRepo) Count(ctx context.Context) (int, error) {
	r.queries.inc(mCount)
	var n int
	err := r.db.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, err
}

// mapWriteErr turns the violation of the email's UNIQUE constraint into ErrEmailTaken.
func mapWriteErr(err error) error {
	if se, ok := errors.AsType[*sqlite.Error](err); ok && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		return ErrEmailTaken
	}
	return err
}
