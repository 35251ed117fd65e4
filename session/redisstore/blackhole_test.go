package redisstore_test

import (
	"context"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionsvc/sessionsvc/config"
	"github.com/sessionsvc/sessionsvc/internal/redistest"
	"github.com/sessionsvc/sessionsvc/session/redisstore"
)

// blackhole forwards TCP connections to addr until swallow is set; then it
// drops every byte in both directions, as a network that lost its route
// does, while the connections stay open.
type blackhole struct {
	ln      net.Listener
	swallow atomic.Bool
}

func newBlackhole(t *testing.T, addr string) *blackhole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	b := &blackhole{ln: ln}
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", addr)
			if err != nil {
				client.Close()
				continue
			}
			t.Cleanup(func() { client.Close(); server.Close() })
			go b.pipe(server, client)
			go b.pipe(client, server)
		}
	}()
	return b
}

func (b *blackhole) pipe(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		if !b.swallow.Load() {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
}

// TestRedisBlackholedConnection: replies lost on the way make the shared
// connection time out and be replaced; once the network is back, requests
// succeed on a fresh one instead of waiting for replies that never come.
func TestRedisBlackholedConnection(t *testing.T) {
	srv := redistest.StartTCP(t)
	hole := newBlackhole(t, srv.Addr())
	u, err := config.ParseRedisURL("redis://" + hole.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	timeout := 300 * time.Millisecond
	b := redisstore.New(redisstore.Config{URL: redisstore.URL(u), Prefix: srv.Prefix, Timeout: timeout, PoolSize: 1})
	t.Cleanup(func() { b.Close() })
	load := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		_, _, err := b.Load(ctx, "k", 0)
		return err
	}
	if err := load(); err != nil {
		t.Fatalf("before the blackhole: %v", err)
	}

	hole.swallow.Store(true)
	if err := load(); err == nil {
		t.Fatal("a load through the blackhole succeeded")
	}
	time.Sleep(2 * timeout) // the connection's own deadline passes
	hole.swallow.Store(false)
	if err := load(); err != nil {
		t.Fatalf("after the network came back: %v", err)
	}
}
