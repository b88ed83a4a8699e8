// Package gentest holds an annotated interface and the decorator cachedgen writes for it.
// The generator's golden test checks that userrepo_cached.go is exactly what cachedgen
// writes today; this package's tests compile that file and exercise it against an
// in-memory implementation.
package gentest

import (
	"context"
	"errors"
)

//go:generate go run github.com/cachedgo/cached/decorator/cmd/cachedgen -type UserRepo

// User is a row of the repository.
type User struct {
	ID    int64
	Email string
	Name  string
	OrgID int64
}

// Query is not comparable (Tags is a slice): Find is keyed by two of its fields.
type Query struct {
	OrgID int64
	Name  string
	Tags  []string
}

// ErrNotFound is the repository's not-found error.
var ErrNotFound = errors.New("gentest: not found")

// UserRepo has one method of each shape the generator handles.
type UserRepo interface {
	// GetUser is a cached read tagged by the user's id.
	//
	//cached:get name=user ttl=10m notfound=ErrNotFound
	//cached:tags user:{id}
	GetUser(ctx context.Context, id int64) (*User, error)

	//cached:get name=userByEmail ttl=10m notfound=ErrNotFound
	//cached:tags user:{result.ID}
	GetUserByEmail(ctx context.Context, email string) (*User, error)

	//cached:batch name=user
	GetUsers(ctx context.Context, ids []int64) (map[int64]*User, error)

	//cached:get name=count ttl=1m
	CountUsers(ctx context.Context) (int, error)

	//cached:get name=orgMember
	IsMember(ctx context.Context, orgID, userID int64) (bool, error)

	//cached:get name=search
	Search(ctx context.Context, orgID int64, prefix string, limit int) ([]int64, error)

	//cached:get name=find key=q.OrgID,q.Name
	Find(ctx context.Context, q Query) (*User, error)

	//cached:evict tags=user:{u.ID}
	//cached:evict name=count
	UpdateUser(ctx context.Context, u *User) error

	// CreateUser stores the new user and drops a cached "no user with this email".
	//
	//cached:put name=user key=result.ID
	//cached:evict name=userByEmail key=email
	//cached:evict name=count
	CreateUser(ctx context.Context, email, name string) (*User, error)

	// DeleteUsers evicts before the call (so that a failed delete leaves nothing stale)
	// and after it (so that a read between the two cannot cache a deleted row).
	//
	//cached:evict name=user key=ids before=true
	//cached:evict name=user key=ids
	//cached:evict name=count
	DeleteUsers(ctx context.Context, ids ...int64) (int, error)

	//cached:evict name=orgMember key=orgID,userID
	//cached:evict name=search key=orgID,"",10
	Join(ctx context.Context, orgID, userID int64) error

	// Ping passes through.
	Ping(ctx context.Context) error
	// Names passes through too.
	Names() []string
}
