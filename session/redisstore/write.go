package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/sessionsvc/sessionsvc/session/redisstore/sentinel"
)

// errFewReplicas is a write that fewer replicas than Config.MinReplicas
// acknowledged in time. The master has it, but a failover could lose it.
var errFewReplicas = errors.New("too few replicas acknowledged the write")

// write sends cmds in one round trip: alone when there is one, else inside
// MULTI/EXEC, and with MinReplicas followed by a WAIT that gives the
// replicas half of the time left to acknowledge (WAIT must answer before
// the connection's read deadline, or the connection would count as broken,
// and Redis ends a WAIT up to one server tick, 1/hz, after its timeout).
// Nothing is sent while the sentinels are failing the master over (see
// sentinel.Sentinel.Fenced). It returns the first error: a command's or
// EXEC's, or too few replicas.
func (b *Backend) write(ctx context.Context, cmds []command) error {
	if b.sentinel != nil && b.sentinel.Fenced() {
		return sentinel.ErrFailover
	}
	if len(cmds) > 1 {
		cmds = append(append([]command{{"MULTI", nil}}, cmds...), command{"EXEC", nil})
	}
	timeout := b.timeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = time.Until(d)
	}
	wait := max(timeout/2, time.Millisecond) // WAIT 0 would wait for ever
	if b.minReplicas > 0 {
		cmds = append(cmds, command{"WAIT", []any{b.minReplicas, wait.Milliseconds()}})
	}
	replies, err := b.do(ctx, cmds...)
	if err != nil {
		return err
	}
	// MULTI's OK and one QUEUED per command come before EXEC's array of
	// results, whose errors are values in it.
	var acks any
	if b.minReplicas > 0 {
		replies, acks = replies[:len(replies)-1], replies[len(replies)-1]
	}
	if err := firstError(replies); err != nil {
		return err
	}
	if b.minReplicas > 0 {
		n, err := redis.Int(acks, nil)
		switch {
		case err != nil:
			return err
		case n < b.minReplicas:
			return fmt.Errorf("%w: %d of %d within %v", errFewReplicas, n, b.minReplicas, wait)
		}
	}
	return nil
}

// firstError returns the first Redis error among replies, looking into
// EXEC's array of results too, or nil.
func firstError(replies []any) error {
	for _, r := range replies {
		if results, ok := r.([]any); ok {
			if err := firstError(results); err != nil {
				return err
			}
		}
		if e, ok := r.(redis.Error); ok {
			return e
		}
	}
	return nil
}

// command is one Redis command and its arguments.
type command struct {
	name string
	args []any
}
