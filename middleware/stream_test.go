package middleware_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/middleware"
	"github.com/go-chi/chi/v5"
)

// events streams one event, then waits for its client to leave or for stop, and says
// which on ended.
func events(stop <-chan struct{}, ended chan<- error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte("data: 1\n\n"))
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
			ended <- r.Context().Err()
		case <-stop:
			ended <- nil
		}
	}
}

func streamServer(t *testing.T, opts ...middleware.Option) (url string, stop chan struct{}, ended chan error) {
	c := newCache(t)
	stop, ended = make(chan struct{}), make(chan error, 4)
	r := chi.NewRouter()
	r.Use(middleware.Cache(c, opts...))
	r.Get("/events", events(stop, ended))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv.URL + "/events", stop, ended
}

// openStream sends a GET and reads its first event.
func openStream(t *testing.T, ctx context.Context, url string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || line != "data: 1\n" {
		t.Fatalf("first event %q, %v", line, err)
	}
	return resp
}

// A stream's handler sees its client leave.
func TestStreamSeesItsClientLeave(t *testing.T) {
	url, stop, ended := streamServer(t)
	defer close(stop)
	ctx, cancel := context.WithCancel(context.Background())
	resp := openStream(t, ctx, url)
	cancel()
	resp.Body.Close()
	if err := <-ended; err == nil {
		t.Fatal("handler ended by stop, not by its client leaving")
	}
}

// A stream outlives LoadTimeout: it is not a load once it streams to its own client.
func TestStreamOutlivesLoadTimeout(t *testing.T) {
	url, stop, ended := streamServer(t, middleware.With(cached.LoadTimeout(50*time.Millisecond)))
	resp := openStream(t, context.Background(), url)
	defer resp.Body.Close()
	time.Sleep(200 * time.Millisecond) // let LoadTimeout pass: a duration, not a synchronisation
	close(stop)
	if err := <-ended; err != nil {
		t.Fatalf("stream ended by %v while its client was reading", err)
	}
}

// A second client of a streaming URL does not wait for the first one's stream to end.
func TestSecondStreamClientDoesNotWait(t *testing.T) {
	url, stop, _ := streamServer(t)
	defer close(stop)
	r1 := openStream(t, context.Background(), url)
	defer r1.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r2 := openStream(t, ctx, url) // fails if it queues behind the first stream
	r2.Body.Close()
}

// A request that joined the flight before the handler started streaming is released
// when it does, and gets a stream of its own.
func TestWaiterReleasedWhenTheFlightStreams(t *testing.T) {
	c := newCache(t)
	flush := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop)
	var first = make(chan struct{}, 1)
	first <- struct{}{}
	r := chi.NewRouter()
	r.Use(middleware.Cache(c))
	r.Get("/events", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-first: // the first request holds its stream back until the second waits
			<-flush
		default:
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte("data: 1\n\n"))
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	srv := httptest.NewServer(r)
	defer srv.Close()
	open := func(got chan<- *http.Response) {
		resp, err := http.Get(srv.URL + "/events")
		if err != nil {
			t.Error(err)
			close(got)
			return
		}
		bufio.NewReader(resp.Body).ReadString('\n')
		got <- resp
	}
	got1 := make(chan *http.Response, 1)
	go open(got1)
	// Wait until the first request is in the handler (a miss) before sending the second.
	for c.Stats().Funcs["/events"].Misses == 0 {
		time.Sleep(time.Millisecond)
	}
	got2 := make(chan *http.Response, 1)
	go open(got2)
	for c.Stats().Funcs["/events"].Coalesced == 0 {
		time.Sleep(time.Millisecond)
	}
	close(flush)
	// Both streams stay open: the first must not have to end for the second to start.
	for _, got := range []chan *http.Response{got1, got2} {
		select {
		case resp, ok := <-got:
			if ok {
				defer resp.Body.Close()
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a request still waits for another request's stream")
		}
	}
}
