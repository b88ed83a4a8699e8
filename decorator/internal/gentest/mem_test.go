package gentest

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
)

// memRepo is an in-memory UserRepo that counts the calls each method receives.
type memRepo struct {
	mu    sync.Mutex
	users map[int64]*User
	next  int64
	calls map[string]int
	// fail, when set, is returned by the next call of the named method.
	fail map[string]error
	// hook, when set, runs inside each call of the named method, before it answers.
	hook map[string]func(ctx context.Context)
}

func newMemRepo(users ...*User) *memRepo {
	r := &memRepo{users: map[int64]*User{}, calls: map[string]int{}, fail: map[string]error{}, hook: map[string]func(context.Context){}}
	for _, u := range users {
		r.users[u.ID] = u
		r.next = max(r.next, u.ID)
	}
	return r
}

// enter counts a call and returns the error to fail it with.
func (r *memRepo) enter(ctx context.Context, method string) error {
	r.mu.Lock()
	r.calls[method]++
	err := r.fail[method]
	delete(r.fail, method)
	h := r.hook[method]
	r.mu.Unlock()
	if h != nil {
		h(ctx)
	}
	return err
}

func (r *memRepo) count(method string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[method]
}

func (r *memRepo) failNext(method string, err error) {
	r.mu.Lock()
	r.fail[method] = err
	r.mu.Unlock()
}

func (r *memRepo) onCall(method string, h func(ctx context.Context)) {
	r.mu.Lock()
	r.hook[method] = h
	r.mu.Unlock()
}

func clone(u *User) *User { c := *u; return &c }

func (r *memRepo) GetUser(ctx context.Context, id int64) (*User, error) {
	if err := r.enter(ctx, "GetUser"); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if u, ok := r.users[id]; ok {
		return clone(u), nil
	}
	return nil, ErrNotFound
}

func (r *memRepo) GetUserByEmail(ctx context.Context, email string) (*User, error) {
	if err := r.enter(ctx, "GetUserByEmail"); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range r.users {
		if u.Email == email {
			return clone(u), nil
		}
	}
	return nil, ErrNotFound
}

func (r *memRepo) GetUsers(ctx context.Context, ids []int64) (map[int64]*User, error) {
	if err := r.enter(ctx, "GetUsers"); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[int64]*User{}
	for _, id := range ids {
		if u, ok := r.users[id]; ok {
			m[id] = clone(u)
		}
	}
	return m, nil
}

func (r *memRepo) CountUsers(ctx context.Context) (int, error) {
	if err := r.enter(ctx, "CountUsers"); err != nil {
		return 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.users), nil
}

func (r *memRepo) IsMember(ctx context.Context, orgID, userID int64) (bool, error) {
	if err := r.enter(ctx, "IsMember"); err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	u, ok := r.users[userID]
	return ok && u.OrgID == orgID, nil
}

func (r *memRepo) Search(ctx context.Context, orgID int64, prefix string, limit int) ([]int64, error) {
	if err := r.enter(ctx, "Search"); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []int64
	for _, id := range slices.Sorted(maps.Keys(r.users)) {
		u := r.users[id]
		if u.OrgID == orgID && len(u.Name) >= len(prefix) && u.Name[:len(prefix)] == prefix && len(ids) < limit {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (r *memRepo) Find(ctx context.Context, q Query) (*User, error) {
	if err := r.enter(ctx, "Find"); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range r.users {
		if u.OrgID == q.OrgID && u.Name == q.Name {
			return clone(u), nil
		}
	}
	return nil, ErrNotFound
}

func (r *memRepo) UpdateUser(ctx context.Context, u *User) error {
	if err := r.enter(ctx, "UpdateUser"); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.users[u.ID]; !ok {
		return ErrNotFound
	}
	r.users[u.ID] = clone(u)
	return nil
}

func (r *memRepo) CreateUser(ctx context.Context, email, name string) (*User, error) {
	if err := r.enter(ctx, "CreateUser"); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	u := &User{ID: r.next, Email: email, Name: name}
	r.users[u.ID] = u
	return clone(u), nil
}

func (r *memRepo) DeleteUsers(ctx context.Context, ids ...int64) (int, error) {
	if err := r.enter(ctx, "DeleteUsers"); err != nil {
		return 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, id := range ids {
		if _, ok := r.users[id]; ok {
			delete(r.users, id)
			n++
		}
	}
	return n, nil
}

func (r *memRepo) Join(ctx context.Context, orgID, userID int64) error {
	if err := r.enter(ctx, "Join"); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	u, ok := r.users[userID]
	if !ok {
		return ErrNotFound
	}
	c := clone(u)
	c.OrgID = orgID
	r.users[userID] = c
	return nil
}

func (r *memRepo) Ping(ctx context.Context) error { return r.enter(ctx, "Ping") }

func (r *memRepo) Names() []string {
	_ = r.enter(context.Background(), "Names")
	return []string{"mem"}
}

var errBoom = errors.New("gentest: boom")
