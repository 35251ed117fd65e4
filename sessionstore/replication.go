package sessionstore

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
)

// errFewReplicas is a write that fewer replicas than RedisConfig.MinReplicas
// acknowledged in time. The master has it, but a failover could lose it.
var errFewReplicas = errors.New("too few replicas acknowledged the write")

// write runs one write command, unless the sentinels are failing the master
// over (see sentinel.fenced). With MinReplicas set it sends WAIT in the
// same round trip, giving the replicas half of timeout to acknowledge: WAIT
// must answer before the connection's read deadline (or the connection
// would count as broken), and Redis ends a WAIT up to one server tick
// (1/hz, 100 ms by default) after its timeout.
func (b *Redis) write(c redis.Conn, timeout time.Duration, cmd string, args ...any) error {
	if b.sentinel != nil && b.sentinel.fenced() {
		return errFailover
	}
	if b.minReplicas <= 0 {
		_, err := redis.DoWithTimeout(c, timeout, cmd, args...)
		return err
	}
	wait := max(timeout/2, time.Millisecond) // WAIT 0 would wait for ever
	c.Send(cmd, args...)
	c.Send("WAIT", b.minReplicas, wait.Milliseconds())
	if err := c.Flush(); err != nil {
		return err
	}
	// Both replies are read whatever the first says, so that the connection
	// stays in step.
	_, err := redis.ReceiveWithTimeout(c, timeout)
	acks, werr := redis.Int(redis.ReceiveWithTimeout(c, timeout))
	switch {
	case err != nil:
		return err
	case werr != nil:
		return werr
	case acks < b.minReplicas:
		return fmt.Errorf("%w: %d of %d within %v", errFewReplicas, acks, b.minReplicas, wait)
	}
	return nil
}

// isReadOnly reports whether err is Redis refusing a write because the
// server is a replica: the master moved.
func isReadOnly(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(string(re), "READONLY")
}
