package middleware

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// write serves a stored response to a request: its headers, Age and Cache-Status, then
// a 304 when the request's conditions match, no body for HEAD, the requested range, or
// the body. status is the Cache-Status line; "" means a fresh hit, whose lines are
// cached per second.
func (h *handler) write(w http.ResponseWriter, r *http.Request, resp *response, status string, now time.Time) {
	dst := w.Header()
	var age, cs []string
	if status == "" {
		st := resp.stamp.Load()
		if sec := now.Unix(); st == nil || st.sec != sec {
			st = &stamp{sec: sec, age: []string{strconv.FormatInt(resp.currentAge(now), 10)},
				status: []string{"cached; hit; ttl=" + strconv.FormatInt(int64(resp.fresh(now)/time.Second), 10)}}
			resp.stamp.Store(st)
		}
		age, cs = st.age, st.status
	} else {
		age, cs = []string{strconv.FormatInt(resp.currentAge(now), 10)}, []string{status}
	}
	if resp.status == http.StatusOK && notModified(r, resp.header) {
		for _, k := range notModifiedFields {
			if v, ok := resp.header[k]; ok {
				dst[k] = v
			}
		}
		dst["Age"], dst["Cache-Status"] = age, cs
		w.WriteHeader(http.StatusNotModified)
		return
	}
	for _, f := range resp.fields {
		dst[f.name] = f.values
	}
	dst["Age"], dst["Cache-Status"] = age, cs
	if resp.status == http.StatusOK && len(r.Header["Range"]) > 0 && r.Method == http.MethodGet {
		// ServeContent answers ranges (and If-Range) on the stored body.
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(resp.body))
		return
	}
	if bodyAllowed(resp.status) {
		dst["Content-Length"] = resp.cl
	}
	w.WriteHeader(resp.status)
	if r.Method != http.MethodHead && bodyAllowed(resp.status) {
		w.Write(resp.body)
	}
}

// staleStatus is the Cache-Status of a stale response served: a hit whose ttl is
// negative (RFC 9211 §2.4).
func staleStatus(resp *response, now time.Time) string {
	return "cached; hit; ttl=" + strconv.FormatInt(int64(resp.fresh(now)/time.Second), 10)
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// notModifiedFields are the header fields a 304 carries (RFC 9110 §15.4.5).
var notModifiedFields = []string{"Cache-Control", "Content-Location", "Date", "Etag", "Expires", "Last-Modified", "Vary"}

// notModified evaluates If-None-Match, then If-Modified-Since, against the stored
// response (RFC 9110 §13.2.2).
func notModified(r *http.Request, stored http.Header) bool {
	if inm := r.Header["If-None-Match"]; len(inm) > 0 {
		var etag string
		if v := stored["Etag"]; len(v) > 0 {
			etag = v[0]
		}
		if etag == "" {
			return false
		}
		for _, line := range inm {
			for tag := range strings.SplitSeq(line, ",") {
				tag = strings.TrimSpace(tag)
				if tag == "*" || weakEqual(tag, etag) {
					return true
				}
			}
		}
		return false
	}
	ims, lm := r.Header["If-Modified-Since"], stored["Last-Modified"]
	if len(ims) == 0 || len(lm) == 0 {
		return false
	}
	since, err := http.ParseTime(ims[0])
	if err != nil {
		return false
	}
	mod, err := http.ParseTime(lm[0])
	return err == nil && !mod.After(since)
}

// weakEqual is the weak comparison of two entity tags (RFC 9110 §8.8.3.2).
func weakEqual(a, b string) bool {
	return strings.TrimPrefix(a, "W/") == strings.TrimPrefix(b, "W/")
}
