// Package bench compares the read path of cached with its peers.
//
// The package holds no code of its own: the benchmarks live in its test files and run
// every contender over one workload in one binary, so that their numbers can be compared
// with benchstat. It is a module of its own so that the peers never enter the root
// go.mod. See README.md for what is measured and how to run it.
package bench
