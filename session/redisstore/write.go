package redisstore

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/sessionsvc/sessionsvc/session/redisstore/sentinel"
)

// errFewReplicas is a write that fewer replicas than Config.MinReplicas
// acknowledged in time. The master has it, but a failover could lose it.
var errFewReplicas = errors.New("too few replicas acknowledged the write")

// write sends cmds in one round trip: alone when there is one, else inside
// MULTI/EXEC, and with MinReplicas followed by a WAIT that gives the
// replicas half of timeout to acknowledge (WAIT must answer before the
// connection's read deadline, or the connection would count as broken, and
// Redis ends a WAIT up to one server tick, 1/hz, after its timeout). Nothing
// is sent while the sentinels are failing the master over (see
// sentinel.Sentinel.Fenced).
func (b *Backend) write(c redis.Conn, timeout time.Duration, cmds []command) error {
	if b.sentinel != nil && b.sentinel.Fenced() {
		return sentinel.ErrFailover
	}
	multi := len(cmds) > 1
	if multi {
		c.Send("MULTI")
	}
	for _, cmd := range cmds {
		c.Send(cmd.name, cmd.args...)
	}
	if multi {
		c.Send("EXEC")
	}
	wait := max(timeout/2, time.Millisecond) // WAIT 0 would wait for ever
	if b.minReplicas > 0 {
		c.Send("WAIT", b.minReplicas, wait.Milliseconds())
	}
	if err := c.Flush(); err != nil {
		return err
	}
	// Every reply is read whatever the first ones say, so that the
	// connection stays in step: MULTI's OK and one QUEUED per command come
	// before EXEC's array of results, whose errors are values in it.
	replies := 1
	if multi {
		replies = len(cmds) + 2
	}
	var firstErr error
	for range replies {
		reply, err := redis.ReceiveWithTimeout(c, timeout)
		if results, ok := reply.([]any); ok && err == nil {
			for _, r := range results {
				if e, ok := r.(redis.Error); ok && err == nil {
					err = e
				}
			}
		}
		if firstErr == nil {
			firstErr = err
		}
		if c.Err() != nil {
			return firstErr
		}
	}
	if b.minReplicas > 0 {
		acks, err := redis.Int(redis.ReceiveWithTimeout(c, timeout))
		switch {
		case firstErr != nil:
			return firstErr
		case err != nil:
			return err
		case acks < b.minReplicas:
			return fmt.Errorf("%w: %d of %d within %v", errFewReplicas, acks, b.minReplicas, wait)
		}
	}
	return firstErr
}

// isReadOnly reports whether err is Redis refusing a write because the
// server is a replica: the master moved.
func isReadOnly(err error) bool {
	if err == nil {
		return false
	}
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(string(re), "READONLY")
}

// command is one Redis command and its arguments.
type command struct {
	name string
	args []any
}
