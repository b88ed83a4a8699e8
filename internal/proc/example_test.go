package proc_test

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/cachedgo/cached/internal/proc"
)

// A child server that is ready once its port accepts connections: memcached, as
// memcachedtest runs it.
func ExampleServer() {
	port, err := proc.FreePort()
	if err != nil {
		fmt.Println(err)
		return
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	accepts := func() error {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err
	}
	args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(port)}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody")
	}
	var srv proc.Server
	if err := srv.Start("memcached", "apt-get install memcached", accepts, args...); err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Stop()
	fmt.Println("ready")
	// Output: ready
}
