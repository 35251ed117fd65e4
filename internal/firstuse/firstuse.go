// Package firstuse runs a store's setup on its first use rather than at
// start (making a table or indexes), so that a service starts while its
// store is down: Once runs the setup until it succeeds once.
package firstuse

import (
	"context"
	"sync/atomic"
)

// Once runs a setup until it succeeds once, one caller at a time. Make it
// with New; it is safe for concurrent use.
type Once struct {
	done  atomic.Bool
	token chan struct{} // held by the caller running the setup
}

// New returns a Once whose setup has not run.
func New() *Once {
	return &Once{token: make(chan struct{}, 1)}
}

// Do runs setup, unless it has succeeded before, and returns its error.
// Callers take turns, each waiting no longer than its ctx allows; setup
// gets the ctx of the caller that runs it. After a failure the next caller
// runs it again.
func (o *Once) Do(ctx context.Context, setup func(context.Context) error) error {
	if o.done.Load() {
		return nil
	}
	select {
	case o.token <- struct{}{}:
		defer func() { <-o.token }()
	case <-ctx.Done():
		return ctx.Err()
	}
	if o.done.Load() {
		return nil
	}
	if err := setup(ctx); err != nil {
		return err
	}
	o.done.Store(true)
	return nil
}

// Done reports whether the setup has succeeded.
func (o *Once) Done() bool { return o.done.Load() }
