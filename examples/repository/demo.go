package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
)

// response is what the demo shows of an answer.
type response struct {
	status      int
	cacheStatus string
	body        []byte
}

// do sends a request with an optional JSON body and reads the whole response.
func do(ctx context.Context, client *http.Client, method, u string, body any) (response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{resp.StatusCode, resp.Header.Get("Cache-Status"), b}, nil
}

// movedEmail is the email the demo gives a user: the other of example.com and
// example.org, so that running the example again moves it back.
func movedEmail(email string) string {
	if local, ok := strings.CutSuffix(email, "@example.com"); ok {
		return local + "@example.org"
	}
	if local, ok := strings.CutSuffix(email, "@example.org"); ok {
		return local + "@example.com"
	}
	return "moved." + email
}

// demoWrite changes the email of the user id over HTTP, after both tiers have cached the
// user by id and by its email and a 404 for the new one, then reads it back each way.
// For each request it prints the status, the user's email, the HTTP tier's Cache-Status
// and the SQL queries the request cost. It returns an error if a request fails or
// answers other than the example expects.
func demoWrite(ctx context.Context, w io.Writer, client *http.Client, base string, a *app, id int64) error {
	path := "/users/" + strconv.FormatInt(id, 10)
	r, err := do(ctx, client, http.MethodGet, base+path, nil)
	if err != nil {
		return err
	}
	var u User
	if err := json.Unmarshal(r.body, &u); r.status != http.StatusOK || err != nil {
		return fmt.Errorf("GET %s: %d %s", path, r.status, r.body)
	}
	oldEmail, newEmail := u.Email, movedEmail(u.Email)

	fmt.Fprintf(w, "\nchanging the email of user %d from %s to %s:\n\n", id, oldEmail, newEmail)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "request\tstatus\temail\tCache-Status\tSQL queries")
	steps := []struct {
		method, path string
		body         any
		want         int
	}{
		{"GET", path, nil, http.StatusOK},
		{"GET", emailPath(oldEmail), nil, http.StatusOK},
		{"GET", emailPath(newEmail), nil, http.StatusNotFound}, // both tiers cache this 404
		{"PUT", path, userInput{Email: newEmail, Name: u.Name}, http.StatusOK},
		{"GET", path, nil, http.StatusOK},
		{"GET", emailPath(newEmail), nil, http.StatusOK},
		{"GET", emailPath(oldEmail), nil, http.StatusNotFound},
	}
	for _, st := range steps {
		before := a.tally()
		r, err := do(ctx, client, st.method, base+st.path, st.body)
		if err != nil {
			return err
		}
		d := a.tally().sub(before)
		var queries int64
		for _, q := range d.queries {
			queries += q
		}
		var got User
		_ = json.Unmarshal(r.body, &got) // a 404's body is text: no email to show
		cs := r.cacheStatus
		if cs == "" {
			cs = "-" // no HTTP tier
		}
		fmt.Fprintf(tw, "%s %s\t%d\t%s\t%s\t%d\n", st.method, st.path, r.status, got.Email, cs, queries)
		if r.status != st.want {
			tw.Flush()
			return fmt.Errorf("%s %s answered %d; want %d", st.method, st.path, r.status, st.want)
		}
	}
	return tw.Flush()
}

// emailPath is the path of GET /users?email=...
func emailPath(email string) string { return "/users?" + url.Values{"email": {email}}.Encode() }
