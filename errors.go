package cached

import (
	"errors"
	"fmt"
)

// ErrNotFound marks a negative result. A loader whose error satisfies
// errors.Is(err, ErrNotFound) reports that the key does not exist: the result is cached for
// [NegativeTTL] and replayed to later callers as an error that also satisfies
// errors.Is(err, ErrNotFound). Use [NotFound] to mark other errors, such as sql.ErrNoRows,
// as negative.
var ErrNotFound = errors.New("cached: not found")

// ErrStore is wrapped by the error a call returns when the [Store] failed and the function
// fails closed ([OnFailure] with [FailClosed]), and by the errors of Put and Invalidate when
// the store failed.
var ErrStore = errors.New("cached: store failed")

// ErrLock is wrapped by the error a call returns when the [Locker] failed and the function
// fails closed.
var ErrLock = errors.New("cached: lock failed")

// ErrPolicy is wrapped by the error a call returns when the [Policy] failed and the function
// fails closed.
var ErrPolicy = errors.New("cached: policy failed")

// ErrCodec is wrapped by the error Put returns when the value cannot be encoded for the
// [Store]. A value that cannot be decoded on a read is a miss, not an error.
var ErrCodec = errors.New("cached: codec failed")

// ErrBus is wrapped by the error Put and Invalidate return when the [Bus] could not publish
// the change to other instances.
var ErrBus = errors.New("cached: bus failed")

// ErrPanic is wrapped by the error every caller of a load receives when the loader panicked.
// The error is a *[PanicError]; nothing is cached and the next call loads again.
var ErrPanic = errors.New("cached: loader panicked")

// PanicError is the error returned to every caller that shared a load whose loader
// panicked.
type PanicError struct {
	Func  string // the function's name
	Value any    // the value passed to panic
	Stack []byte // the stack of the panicking goroutine
}

// Error describes the panic.
func (e *PanicError) Error() string {
	return fmt.Sprintf("cached: %s: loader panicked: %v", e.Func, e.Value)
}

// Unwrap returns [ErrPanic], and the panic value when it is an error.
func (e *PanicError) Unwrap() []error {
	if err, ok := e.Value.(error); ok {
		return []error{ErrPanic, err}
	}
	return []error{ErrPanic}
}

// notFoundError is the error a negative hit replays. It satisfies errors.Is(err,
// ErrNotFound) and, when the negative result was loaded by this process, unwraps to the
// loader's own error, so errors.Is(err, sql.ErrNoRows) keeps working.
type notFoundError struct {
	name string
	err  error // the loader's error; nil when the result came from a Store or a Guard
}

func (e *notFoundError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return "cached: " + e.name + ": not found"
}

func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }

func (e *notFoundError) Unwrap() error { return e.err }

// plugErr wraps a plug-in failure with the sentinel, the operation and the key.
func plugErr(sentinel error, name, op, key string, err error) error {
	return fmt.Errorf("%w: %s: %s %q: %w", sentinel, name, op, key, err)
}
