package main

import (
	"context"
	"errors"
)

//go:generate go run github.com/cachedgo/cached/decorator/cmd/cachedgen -type UserRepo

// User is a row of the users table.
type User struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

var (
	// ErrNotFound is returned when no user has the id or email asked for. The cache stores
	// it as a not-found result (notfound=ErrNotFound) and replays it as an error matching
	// it, so callers test errors.Is(err, ErrNotFound) whether the cache answered or not.
	ErrNotFound = errors.New("repository: user not found")
	// ErrEmailTaken is returned by CreateUser and UpdateUser when another user has the
	// email.
	ErrEmailTaken = errors.New("repository: email taken")
)

// UserRepo is the repository the handlers use. The annotations in its doc comments say
// what cachedgen puts around each method in CachedUserRepo (userrepo_cached.go); the
// implementation, sqlRepo, knows nothing of them.
type UserRepo interface {
	// GetUser returns the user with id, or ErrNotFound. Its values are tagged with the
	// user, so that a write evicting the tag drops them.
	//
	//cached:get name=user ttl=10m notfound=ErrNotFound
	//cached:tags user:{id}
	GetUser(ctx context.Context, id int64) (*User, error)

	// GetUserByEmail returns the user with email, or ErrNotFound. The key is the email,
	// but the tag is the user's id, read from the result: an update knows the id and the
	// new email, not the old one, and evicting the tag drops the old email's entry too.
	//
	//cached:get name=userByEmail ttl=10m notfound=ErrNotFound
	//cached:tags user:{result.ID}
	GetUserByEmail(ctx context.Context, email string) (*User, error)

	// GetUsers returns the users with ids, keyed by id; ids that do not exist are left
	// out. It shares the cached function "user" with GetUser: an id either one loaded is a
	// hit for the other, and the database is asked only for the ids not cached.
	//
	//cached:batch name=user
	GetUsers(ctx context.Context, ids []int64) (map[int64]*User, error)

	// UpdateUser sets the email and name of the user u.ID: ErrNotFound if there is none,
	// ErrEmailTaken if another user has the email. After it succeeds the tag user:{u.ID}
	// is evicted (the user by id, by the old email and in batches), and so is the new
	// email's entry, which may be a cached "not found" from before the update.
	//
	//cached:evict tags=user:{u.ID}
	//cached:evict name=userByEmail key=u.Email
	UpdateUser(ctx context.Context, u *User) error

	// CreateUser adds a user and returns it with its id, or ErrEmailTaken. The new user
	// is stored as the cached value of its id, so that reading it back issues no query,
	// and the email's entry, a cached "not found" if someone looked it up before, is
	// evicted.
	//
	//cached:put name=user key=result.ID
	//cached:evict name=userByEmail key=email
	CreateUser(ctx context.Context, email, name string) (*User, error)

	// Count returns the number of users. It has no annotation and passes through: the
	// decision to seed the database must see the table as it is.
	Count(ctx context.Context) (int, error)
}
