package gentest

import (
	"context"
	"errors"
	"testing"
)

// rvNilRepo answers "no such user" the way many Go repositories do, (nil, nil), for
// GetUserByEmail, and returns no row from CreateUser (a create that reports nothing back).
type rvNilRepo struct{ *memRepo }

func (rvNilRepo) GetUserByEmail(context.Context, string) (*User, error) { return nil, nil }

func (r rvNilRepo) CreateUser(ctx context.Context, email, name string) (*User, error) {
	if _, err := r.memRepo.CreateUser(ctx, email, name); err != nil {
		return nil, err
	}
	return nil, nil
}

// TestRegressionNilResultIsNotAPanic: GetUserByEmail is tagged user:{result.ID}. When the
// repository answers (nil, nil), the generated tags closure dereferences the nil result
// inside the loader: the decorated call fails with an ErrPanic error where the repository
// answered without one. The cache changed the method's result (a contract violation: a
// cache-side failure must not break the call).
func TestRegressionNilResultIsNotAPanic(t *testing.T) {
	r := NewCachedUserRepo(newCache(t), rvNilRepo{newMemRepo(seed()...)})
	u, err := r.GetUserByEmail(context.Background(), "nobody@example.com")
	if err != nil || u != nil {
		t.Fatalf("GetUserByEmail = %v, %v; the repository answered (nil, nil)", u, err)
	}
}

// TestRegressionNilWriteResultDoesNotPanic: CreateUser is annotated put name=user
// key=result.ID. When the write succeeds and returns a nil *User, the generated method
// evaluates result.ID after the write and panics in the caller's goroutine: a write that
// happened crashes the program instead of returning.
func TestRegressionNilWriteResultDoesNotPanic(t *testing.T) {
	r := NewCachedUserRepo(newCache(t), rvNilRepo{newMemRepo(seed()...)})
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("CreateUser panicked after the write succeeded: %v", p)
		}
	}()
	if _, err := r.CreateUser(context.Background(), "new@example.com", "new"); err != nil {
		t.Fatal(err)
	}
}

// TestRegressionEvictBeforeLeavesTheDeletedRowCached: DeleteUsers evicts user before the call
// (before=true) and not after. A read that misses between the eviction and the delete
// loads the row that is about to go and caches it; once DeleteUsers returns, GetUser keeps
// serving the deleted user for the TTL (10m). The hook runs that read at exactly that
// moment, as a concurrent request would.
func TestRegressionEvictBeforeLeavesTheDeletedRowCached(t *testing.T) {
	mem := newMemRepo(seed()...)
	r := NewCachedUserRepo(newCache(t), mem)
	ctx := context.Background()
	if _, err := r.GetUser(ctx, 1); err != nil {
		t.Fatal(err)
	}
	mem.onCall("DeleteUsers", func(ctx context.Context) {
		// Another request, between the eviction and the delete.
		if _, err := r.GetUser(ctx, 1); err != nil {
			t.Errorf("concurrent GetUser: %v", err)
		}
	})
	if n, err := r.DeleteUsers(ctx, 1); err != nil || n != 1 {
		t.Fatalf("DeleteUsers = %d, %v", n, err)
	}
	mem.onCall("DeleteUsers", nil)
	if u, err := r.GetUser(ctx, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetUser(1) after DeleteUsers(1) returned = %+v, %v; want ErrNotFound", u, err)
	}
}

// TestRegressionCreateUserClearsNotFoundByEmail: the showcase interface caches "no user with
// this email" for the default NegativeTTL (30s), and CreateUser neither evicts nor tags
// it (tags cannot reach a not-found result: it has no result.ID). A sign-up flow that
// checks the email, creates the user, then looks it up by email is told it does not exist:
// LESSONS #3 (go-zero #4210), which must not happen here.
func TestRegressionCreateUserClearsNotFoundByEmail(t *testing.T) {
	_, r := setup(t)
	ctx := context.Background()
	if _, err := r.GetUserByEmail(ctx, "new@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetUserByEmail before the sign-up: %v, want ErrNotFound", err)
	}
	created, err := r.CreateUser(ctx, "new@example.com", "new")
	if err != nil {
		t.Fatal(err)
	}
	if u, err := r.GetUserByEmail(ctx, "new@example.com"); err != nil || u.ID != created.ID {
		t.Fatalf("GetUserByEmail right after CreateUser: %+v, %v; want user %d", u, err, created.ID)
	}
}
