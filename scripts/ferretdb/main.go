// Command ferretdb serves the MongoDB wire protocol from a directory of
// SQLite files, by embedding FerretDB: the MongoDB server of the Mongo
// session store's tests (see internal/mongotest), which build and start it
// themselves. It is a module of its own because FerretDB pins older
// versions of modules the service uses (modernc.org/sqlite among them),
// so it is never compiled into the service or its tests.
//
// Run it from this directory (go run from the repository root does not
// cross into another module):
//
//	cd scripts/ferretdb && go run . -dir /tmp/ferretdb
//
// Flags:
//
//	-dir DIR     the state directory, created if missing (required); a
//	             server started again on the same directory has the same data
//	-listen ADDR the host:port to listen on (default 127.0.0.1:0, a free port)
//
// Once it accepts connections it prints the MongoDB URI on one line of
// standard output (mongodb://127.0.0.1:PORT/). It serves until SIGINT or
// SIGTERM, or until its standard input reaches end of file, so that it
// ends with the process that started it, and then exits 0. Its log (warnings
// and errors only) goes to standard error.
//
// FerretDB 1.24 answers NotImplemented to TTL indexes (expireAfterSeconds)
// and has no transactions.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends or stdin reaches end of file.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ferretdb", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "host:port to listen on (port 0: a free one)")
	dir := fs.String("dir", "", "state directory, created if missing (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("-dir is required, and nothing else")
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // the starting process is gone (or done with us)
		io.Copy(io.Discard, stdin)
		cancel()
	}()

	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dir + "/",
	})
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	uri := f.MongoDBURI() // listening from New on
	if err := waitAccepting(ctx, uri); err != nil {
		cancel()
		<-done
		return err
	}
	fmt.Fprintln(stdout, uri)
	return <-done
}

// waitAccepting returns once a TCP connection to the server at uri
// (mongodb://host:port/) succeeds.
func waitAccepting(ctx context.Context, uri string) error {
	u, err := url.Parse(uri)
	if err != nil {
		return err
	}
	for {
		c, err := net.DialTimeout("tcp", u.Host, time.Second)
		if err == nil {
			return c.Close()
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(10 * time.Millisecond):
		}
	}
}
