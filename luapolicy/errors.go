package luapolicy

import "errors"

// ErrTimeout is wrapped by the error of a run that passed its [CallTimeout] or
// [LoadTimeout].
var ErrTimeout = errors.New("luapolicy: script timed out")

// ErrMemory is wrapped by the error of a run that built a string longer than [MaxString]
// or allocated more than its [Memory] budget.
var ErrMemory = errors.New("luapolicy: script memory limit")

// ErrScript is wrapped by the error of a run that raised a Lua error or returned a value
// of the wrong type or range.
var ErrScript = errors.New("luapolicy: script error")

// ErrRejected is wrapped by the error of a load or reload whose script did not compile,
// did not return valid policies within its budgets, or failed one of its own examples.
// The previous version, if any, stays live.
var ErrRejected = errors.New("luapolicy: script rejected")

// ErrClosed is returned by Watch and WatchEtcd after [Engine.Close], and wrapped
// by the error of a per-call function that runs after it.
var ErrClosed = errors.New("luapolicy: engine closed")

// ErrNoFile is returned by [Engine.Watch] for an Engine made by [LoadString].
var ErrNoFile = errors.New("luapolicy: engine has no file to watch")
