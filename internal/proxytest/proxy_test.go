package proxytest

import (
	"bufio"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// echoServer answers every line with itself, until the test ends.
func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// Ends when the proxy closes its side, by the test's end.
			wg.Go(func() { io.Copy(c, c); c.Close() })
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// roundTrip sends a line on c and reads it back.
func roundTrip(c net.Conn, r *bufio.Reader, line string) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return err
	}
	got, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if got != line+"\n" {
		return io.ErrUnexpectedEOF
	}
	return nil
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// TestProxy: bytes go through both ways; Cut breaks the open connection and
// every new one, at once; Restore lets new ones through again.
func TestProxy(t *testing.T) {
	p := NewProxy(t, echoServer(t))
	c, r := dial(t, p.Addr())
	if err := roundTrip(c, r, "hello"); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}

	p.Cut()
	start := time.Now()
	if err := roundTrip(c, r, "cut"); err == nil {
		t.Fatal("the open connection still works after Cut")
	}
	for range 3 {
		// Closed at once: the reset may even reach the dialer before its
		// connect returns.
		c2, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
		if err != nil {
			continue
		}
		err = roundTrip(c2, bufio.NewReader(c2), "new")
		c2.Close()
		if err == nil {
			t.Fatal("a new connection works after Cut")
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("failing took %v, want at once", d)
	}

	p.Restore()
	c3, r3 := dial(t, p.Addr())
	for range 3 {
		if err := roundTrip(c3, r3, "back"); err != nil {
			t.Fatalf("after Restore: %v", err)
		}
	}
	if err := roundTrip(c, r, "old"); err == nil {
		t.Error("the connection Cut closed works again after Restore")
	}
}
