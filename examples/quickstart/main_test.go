package main

import (
	"bytes"
	"regexp"
	"testing"

	"go.uber.org/goleak"
)

// TestDemo runs the demo and checks the claims it prints.
func TestDemo(t *testing.T) {
	defer goleak.VerifyNone(t)
	var out bytes.Buffer
	run(&out)
	for _, want := range []string{
		`without cache: 1000 callers -> 1000 repository calls`,
		`with cache:    1000 callers ->    1 repository call,`,
		`with cache:    1000 callers ->    0 repository calls`,
		`missing id:    2 lookups -> 1 repository call`,
	} {
		if !bytes.Contains(out.Bytes(), []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if !regexp.MustCompile(`stats: hits=\d+ misses=\d+ coalesced=\d+ loads=2 negative_hits=1`).Match(out.Bytes()) {
		t.Errorf("unexpected stats line:\n%s", out.String())
	}
}
