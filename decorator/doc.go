// Package decorator puts caching around whole interfaces and composes advice around
// single functions, the way aspects do in Java (JetCache, Spring Cache), with generated
// code instead of runtime proxies.
//
// # Generated decorators
//
// Annotate the methods of a repository interface in their doc comments and run the
// generator beside it:
//
//	//go:generate go run github.com/cachedgo/cached/decorator/cmd/cachedgen -type UserRepo
//
//	type UserRepo interface {
//		//cached:get name=user ttl=10m
//		//cached:tags user:{id}
//		GetUser(ctx context.Context, id int64) (*User, error)
//
//		//cached:get name=userByEmail
//		//cached:tags user:{result.ID}
//		GetUserByEmail(ctx context.Context, email string) (*User, error)
//
//		//cached:batch name=user
//		GetUsers(ctx context.Context, ids []int64) (map[int64]*User, error)
//
//		//cached:evict tags=user:{u.ID}
//		UpdateUser(ctx context.Context, u *User) error
//
//		//cached:put name=user key=u.ID value=u
//		//cached:evict name=userByEmail key=u.Email // a cached "no such email"
//		CreateUser(ctx context.Context, u *User) error
//
//		Ping(ctx context.Context) error // no annotation: passed through
//	}
//
// The generator writes userrepo_cached.go: a CachedUserRepo that implements UserRepo and
// NewCachedUserRepo(c, next, opts...) to build it around any implementation. Business code
// depends on UserRepo and never sees the cache. The annotations, their options and the
// method shapes each accepts are in the generator's documentation (go doc
// github.com/cachedgo/cached/decorator/cmd/cachedgen); mistakes in them are reported with
// file and line when the generator runs, not when the program does.
//
// [With], [For] and [OnError] configure a generated decorator at run time: engine options
// for every method or one cached function, and a hook for failed cache writes.
//
// # Tags
//
// One entity is often cached under several keys (a user by id and by email); after it
// changes, the write knows its id but not the old email. A tag names the entity:
// values are tagged when they are loaded (cached:tags user:{result.ID}), and a write
// invalidates the tag (cached:evict tags=user:{u.ID}), which invalidates every value
// tagged with it, in every instance. See [Tags] for how.
//
// # Advice for single functions
//
// [Decorator] is the shape of cached.Wrap: a function in, a function with the same
// signature out. [Chain] composes decorators, the first outermost; [Cached] is the cache
// as one; [Around] turns a function that surrounds a call into one:
//
//	getUser := decorator.Chain(
//		decorator.Around(logCalls),                 // every call
//		decorator.Cached[int64, *User](c, "user"),  // the cache
//		decorator.Around(countQueries),             // loads only
//	)(repo.GetUser)
//
// # The self-invocation trap
//
// A decorator sees only the calls made through it. A method of the implementation that
// calls another of its own methods (r.GetUser inside r.Rename) calls the implementation
// directly: that inner call is not cached, and a write made that way evicts nothing. Spring
// AOP users meet the same trap with proxies. The Go fix is explicit: give the
// implementation the decorated interface to call itself through, once both exist:
//
//	type repo struct {
//		db   *sql.DB
//		self UserRepo // the decorated repository; calls through it are cached
//	}
//
//	r := &repo{db: db}
//	cachedRepo := NewCachedUserRepo(c, r)
//	r.self = cachedRepo
//
// and call r.self.GetUser(ctx, id) where the cache should apply. Writes that must evict
// should likewise go through the interface, or evict by hand with the generated type's
// methods.
package decorator
