package luapolicy_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/luapolicy"
)

func ExampleLoadString() {
	policy := `
	return {
	  account = {
	    ttl = "10m",
	    -- The Store key: one entry however the e-mail is spelt.
	    key = function(call) return string.lower(call.args[1]) end,
	    examples = { { args = { "Ann@Example.org" }, key = "ann@example.org" } },
	  },
	  -- Search results are never cached.
	  search = { bypass = true },
	}`
	e, err := luapolicy.LoadString("policy.lua", policy)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Close()

	c := cached.New(cached.WithPolicy(e))
	defer c.Close()
	loads := map[string]int{}
	account := cached.Wrap(c, "account", func(_ context.Context, email string) (string, error) {
		loads["account"]++
		return "account of " + strings.ToLower(email), nil
	})
	search := cached.Wrap(c, "search", func(_ context.Context, q string) (string, error) {
		loads["search"]++
		return "results for " + q, nil
	})
	ctx := context.Background()
	for range 3 {
		account(ctx, "Ann@Example.org")
		search(ctx, "cats")
	}
	v, _ := account(ctx, "Ann@Example.org")
	fmt.Println(v)
	fmt.Println("loads:", loads, "version:", e.Stats().Version)
	// Output:
	// account of ann@example.org
	// loads: map[account:1 search:3] version: 1
}

func ExampleLoadString_rejected() {
	_, err := luapolicy.LoadString("policy.lua", `return {
	  user = {
	    tll = "10m",
	  },
	}`)
	fmt.Println(err)
	// Output:
	// luapolicy: script rejected: policy.lua:3: policy "user": unknown setting "tll" (did you mean "ttl"?)
}
