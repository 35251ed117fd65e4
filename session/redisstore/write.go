package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/sessionsvc/sessionsvc/session"
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
// sentinel.Sentinel.Fenced). It returns the first command's reply, and
// the first error: a command's or EXEC's, or too few replicas.
func (b *Backend) write(ctx context.Context, cmds []command) (any, error) {
	if b.sentinel != nil && b.sentinel.Fenced() {
		return nil, sentinel.ErrFailover
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
		return nil, err
	}
	// MULTI's OK and one QUEUED per command come before EXEC's array of
	// results, whose errors are values in it.
	var acks any
	if b.minReplicas > 0 {
		replies, acks = replies[:len(replies)-1], replies[len(replies)-1]
	}
	if err := firstError(replies); err != nil {
		return replies[0], err
	}
	if b.minReplicas > 0 {
		n, err := redis.Int(acks, nil)
		switch {
		case err != nil:
			return nil, err
		case n < b.minReplicas:
			return nil, fmt.Errorf("%w: %d of %d within %v", errFewReplicas, n, b.minReplicas, wait)
		}
	}
	return replies[0], nil
}

// casScript runs a write only if each of its KEYS still holds what the
// request loaded (ARGV[i] for KEYS[i]). If one does not, it writes nothing
// and answers {i, what KEYS[i] holds}. Else it runs the commands that
// follow in ARGV, each given as its number of words, its name and its
// arguments, and answers 0. A script runs as one unit: no other client's
// command comes between the check and the write.
const casScript = `
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v ~= ARGV[i] then return {i, v} end
end
local j = #KEYS + 1
while j <= #ARGV do
  local n = tonumber(ARGV[j])
  redis.call(unpack(ARGV, j + 1, j + n))
  j = j + n + 1
end
return 0`

// casScriptHash is casScript's SHA-1, its name for EVALSHA.
var casScriptHash = redis.NewScript(0, casScript).Hash()

// writeIfLoaded sends cmds, the commands of recs, through casScript, so
// that they apply only where every record with Loaded still holds it; a
// *session.Conflict reports the first that does not. The script is sent
// by its hash (EVALSHA), and again whole (EVAL) when Redis does not have
// it, after a restart or a failover.
func (b *Backend) writeIfLoaded(ctx context.Context, recs []session.Record, cmds []command) error {
	var keys, args []any
	var guarded []string
	for _, r := range recs {
		if r.Loaded != nil {
			guarded = append(guarded, r.Key)
			keys, args = append(keys, b.prefix+r.Key), append(args, r.Loaded)
		}
	}
	for _, c := range cmds {
		args = append(append(args, len(c.args)+1, c.name), c.args...)
	}
	eval := command{"EVALSHA", append(append([]any{casScriptHash, len(keys)}, keys...), args...)}
	reply, err := b.write(ctx, []command{eval})
	if e, ok := err.(redis.Error); ok && strings.HasPrefix(string(e), "NOSCRIPT") {
		eval.name, eval.args[0] = "EVAL", casScript
		reply, err = b.write(ctx, []command{eval})
	}
	if err != nil {
		return err
	}
	if conflict, ok := reply.([]any); ok && len(conflict) == 2 {
		i, _ := conflict[0].(int64)
		data, _ := conflict[1].([]byte)
		if i >= 1 && int(i) <= len(guarded) {
			return &session.Conflict{Key: guarded[i-1], Data: data}
		}
	}
	if n, ok := reply.(int64); !ok || n != 0 {
		return fmt.Errorf("unexpected reply %v from the write script", reply)
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
