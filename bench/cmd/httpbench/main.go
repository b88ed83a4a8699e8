// Command httpbench serves the middleware benchmarks' page (bench/internal/httpbench)
// over loopback, for wrk: one http.Server on 127.0.0.1 for the bare chi router and one
// for the router behind middleware.Cache, in one process. It stores the page before it
// prints the two URLs, one a line:
//
//	bare http://127.0.0.1:41623/page
//	cached http://127.0.0.1:40211/page
//
// then serves until SIGINT or SIGTERM, and reports on stderr how many times the cached
// router ran the handler (1 when every request under load was a hit). bench/
// wrk_middleware.sh drives it.
//
// Usage:
//
//	httpbench [-cpuprofile file] [-memprofile file]
//
// -cpuprofile profiles the process from the URLs' printing to the signal; with wrk run
// against one of the two URLs only, it is that server's profile.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bench/internal/httpbench"
)

func main() {
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the serving to `file`")
	memprofile := flag.String("memprofile", "", "write an allocation profile to `file` at exit")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("httpbench: ")

	c := cached.New()
	defer c.Close()
	servers := []struct {
		name string
		h    http.Handler
	}{
		{"bare", httpbench.Bare()},
		{"cached", httpbench.Cached(c)},
	}
	var urls []string
	var running []*http.Server
	for _, s := range servers {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		srv := &http.Server{Handler: s.h, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				log.Fatal(err)
			}
		}()
		running = append(running, srv)
		urls = append(urls, "http://"+ln.Addr().String()+httpbench.Path)
	}
	if err := check(urls[0], ""); err != nil {
		log.Fatalf("bare: %v", err)
	}
	for _, want := range []string{"cached; fwd=uri-miss; stored", "cached; hit"} {
		if err := check(urls[1], want); err != nil {
			log.Fatalf("cached: %v", err)
		}
	}

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	for i, s := range servers {
		fmt.Printf("%s %s\n", s.name, urls[i])
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range running {
		srv.Shutdown(ctx)
	}
	if *memprofile != "" {
		f, err := os.Create(*memprofile)
		if err != nil {
			log.Fatal(err)
		}
		runtime.GC()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			log.Fatal(err)
		}
		f.Close()
	}
	log.Printf("the cached router ran the handler %d times", c.Stats().Funcs[httpbench.Path].Loads)
}

// check gets url and fails unless it answers 200 with the page and a Cache-Status that
// starts with status ("" for none).
func check(url, status string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	cs := resp.Header.Get("Cache-Status")
	switch {
	case resp.StatusCode != http.StatusOK || len(body) != len(httpbench.Body):
		return fmt.Errorf("%s: status %d, %d bytes; want 200, %d bytes", url, resp.StatusCode, len(body), len(httpbench.Body))
	case (status == "") != (cs == "") || !strings.HasPrefix(cs, status):
		return fmt.Errorf("%s: Cache-Status %q; want %q", url, cs, status)
	}
	return nil
}
