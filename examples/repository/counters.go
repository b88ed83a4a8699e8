package main

import (
	"context"
	"sync/atomic"
)

// method names a method of UserRepo, to count its calls and its queries.
type method int

const (
	mGetUser method = iota
	mGetUserByEmail
	mGetUsers
	mUpdateUser
	mCreateUser
	mCount
	numMethods
)

var methodNames = [numMethods]string{"GetUser", "GetUserByEmail", "GetUsers", "UpdateUser", "CreateUser", "Count"}

func (m method) String() string { return methodNames[m] }

// counts are counters by method, safe for concurrent use.
type counts [numMethods]atomic.Int64

func (c *counts) inc(m method) { c[m].Add(1) }

// snapshot returns the counters' values now.
func (c *counts) snapshot() [numMethods]int64 {
	var s [numMethods]int64
	for m := range c {
		s[m] = c[m].Load()
	}
	return s
}

// countCalls is a UserRepo that counts the calls made to next by method: the calls the
// handlers make, which the cache around the database answers or passes on. It is safe
// for concurrent use.
type countCalls struct {
	next     UserRepo
	calls    counts
	idsAsked atomic.Int64 // ids asked of GetUsers, over all its calls
}

var _ UserRepo = (*countCalls)(nil)

func (r *countCalls) GetUser(ctx context.Context, id int64) (*User, error) {
	r.calls.inc(mGetUser)
	return r.next.GetUser(ctx, id)
}

func (r *countCalls) GetUserByEmail(ctx context.Context, email string) (*User, error) {
	r.calls.inc(mGetUserByEmail)
	return r.next.GetUserByEmail(ctx, email)
}

func (r *countCalls) GetUsers(ctx context.Context, ids []int64) (map[int64]*User, error) {
	r.calls.inc(mGetUsers)
	r.idsAsked.Add(int64(len(ids)))
	return r.next.GetUsers(ctx, ids)
}

func (r *countCalls) UpdateUser(ctx context.Context, u *User) error {
	r.calls.inc(mUpdateUser)
	return r.next.UpdateUser(ctx, u)
}

func (r *countCalls) CreateUser(ctx context.Context, email, name string) (*User, error) {
	r.calls.inc(mCreateUser)
	return r.next.CreateUser(ctx, email, name)
}

func (r *countCalls) Count(ctx context.Context) (int, error) {
	r.calls.inc(mCount)
	return r.next.Count(ctx)
}
