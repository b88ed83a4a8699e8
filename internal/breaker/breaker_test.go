package breaker_test

import (
	"testing"
	"time"

	"github.com/cachedgo/cached/internal/breaker"
)

func TestBreaker(t *testing.T) {
	b := &breaker.Breaker{Threshold: 2, Cooldown: time.Second}
	t0 := time.Unix(1000, 0)
	if b.Failure(t0) {
		t.Fatal("opened after 1 of 2 failures")
	}
	if !b.Allow(t0) {
		t.Fatal("refused a call while closed")
	}
	if !b.Failure(t0) {
		t.Fatal("did not open after 2 failures")
	}
	if b.Allow(t0.Add(time.Second/2)) || !b.Open(t0.Add(time.Second/2)) {
		t.Fatal("allowed a call within the cooldown")
	}
	after := t0.Add(time.Second)
	if !b.Allow(after) {
		t.Fatal("refused the probe after the cooldown")
	}
	if b.Allow(after) {
		t.Fatal("allowed a second call while the probe is out")
	}
	if !b.Failure(after) {
		t.Fatal("a failed probe did not reopen the breaker")
	}
	later := after.Add(time.Second)
	if !b.Allow(later) {
		t.Fatal("refused the second probe")
	}
	b.Abandon()
	if !b.Allow(later) {
		t.Fatal("an abandoned probe was not given back")
	}
	b.Success()
	if b.Open(later) || !b.Allow(later) || !b.Allow(later) {
		t.Fatal("a successful probe did not close the breaker")
	}
}
