//go:build race

package bloom_test

// raceEnabled reports whether the tests run under the race detector, which makes the
// engine's miss path about ten times slower: the flood measurements send fewer requests.
const raceEnabled = true
