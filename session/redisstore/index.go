package redisstore

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/redisstore/pipeline"
)

// indexSlack is how long an owner index entry outlives its record's expiry
// before it is pruned, so that processes whose clocks differ a little never
// drop a live session from its index.
const indexSlack = time.Minute

// indexPruneOneIn: an owner index drops its expired entries on one write
// to it in this many, chosen at random, rather than on every write. Finding
// sessions skips expired entries anyway; pruning only bounds the index,
// which holds a few expired entries more on average.
const indexPruneOneIn = 8

// scanCount is the COUNT hint of each SCAN and ZSCAN: items looked at per
// call, and the most keys a step of List or SessionsOf reads at once.
const scanCount = 500

// indexKey is the owner index of owner: a sorted set of session keys scored
// by their expiry (unix milliseconds).
func (b *Backend) indexKey(owner string) string {
	return b.indexPrefix + owner
}

// legacyIndexKey is where releases before exact owner matching indexed
// owner: in Unicode lower case. Owned still reads it, so that sessions
// indexed there are found until they are written or refreshed again (under
// indexKey) or expire; after one session lifetime it is empty.
func (b *Backend) legacyIndexKey(owner string) string {
	return b.indexPrefix + strings.ToLower(owner)
}

// commands appends the commands that apply r: SET ... PX or DEL, and the
// owner index updates: the key leaves its previous owner's index, and
// joins (or is rescored in) its owner's, whose expired entries are pruned
// now and then and whose own expiry is pushed to cover the new entry.
func (b *Backend) commands(cmds []command, r session.Record, now time.Time) []command {
	owner := r.Owner
	if r.Data == nil {
		cmds = append(cmds, command{"DEL", []any{b.prefix + r.Key}})
		owner = ""
	} else {
		cmds = append(cmds, command{"SET", []any{b.prefix + r.Key, r.Data, "PX", max(r.TTL.Milliseconds(), 1)}})
	}
	if r.PrevOwner != "" && r.PrevOwner != owner {
		cmds = append(cmds, command{"ZREM", []any{b.indexKey(r.PrevOwner), r.Key}})
	}
	if owner != "" {
		idx := b.indexKey(owner)
		cmds = append(cmds, command{"ZADD", []any{idx, now.Add(r.TTL).UnixMilli(), r.Key}})
		if rand.IntN(b.pruneOneIn) == 0 {
			cmds = append(cmds, command{"ZREMRANGEBYSCORE", []any{idx, "-inf", "(" + strconv.FormatInt(now.Add(-indexSlack).UnixMilli(), 10)}})
		}
		cmds = appendIndexExpiry(cmds, idx, r.TTL)
	}
	return cmds
}

// appendIndexExpiry appends the commands that make index idx outlive an
// entry expiring ttl from now: NX gives a new index its expiry; GT only
// ever lengthens it, so the index outlives every entry in it.
func appendIndexExpiry(cmds []command, idx string, ttl time.Duration) []command {
	ms := (max(ttl, time.Millisecond) + indexSlack).Milliseconds()
	return append(cmds, command{"PEXPIRE", []any{idx, ms, "NX"}}, command{"PEXPIRE", []any{idx, ms, "GT"}})
}

// Owned implements session.OwnerIndex: ZSCAN of the index (and of its
// legacy key) in steps of about scanCount entries, so that no one command
// holds Redis over a large index, leaving out entries that expired more
// than indexSlack ago.
func (b *Backend) Owned(ctx context.Context, owner string) ([]string, error) {
	cutoff := float64(time.Now().Add(-indexSlack).UnixMilli())
	var keys []string
	seen := map[string]bool{}
	idxs := []string{b.indexKey(owner)}
	if legacy := b.legacyIndexKey(owner); legacy != idxs[0] {
		idxs = append(idxs, legacy)
	}
	for _, idx := range idxs {
		for cursor := "0"; ; {
			var page []string
			var err error
			if cursor, page, err = b.scanStep(ctx, "ZSCAN", idx, cursor); err != nil {
				return nil, err
			}
			for i := 0; i+1 < len(page); i += 2 { // member, score
				if score, _ := strconv.ParseFloat(page[i+1], 64); score >= cutoff && !seen[page[i]] {
					seen[page[i]] = true
					keys = append(keys, page[i])
				}
			}
			if cursor == "0" {
				break
			}
		}
	}
	return keys, nil
}

// scanStep sends one step of a SCAN-family command (cmd and its key, if it
// has one: ZSCAN idx) from cursor, asking for about scanCount items, and
// returns the next cursor ("0" at the end) and the items.
func (b *Backend) scanStep(ctx context.Context, cmd, key, cursor string, match ...any) (next string, items []string, err error) {
	args := append([]any{cursor}, match...)
	if key != "" {
		args = append([]any{key}, args...)
	}
	replies, err := b.do(ctx, command{cmd, append(args, "COUNT", scanCount)})
	if err == nil {
		var reply []any
		if reply, err = redis.Values(replies[0], nil); err == nil {
			_, err = redis.Scan(reply, &next, &items)
		}
	}
	return next, items, err
}

// TouchOwned implements session.OwnerIndex: ZADD GT (an entry only moves later) and
// the index's expiry as in Write, in one round trip. A missing entry is
// added, so sessions stored before the index existed join it at their first
// refresh. An entry re-added for a session deleted meanwhile is harmless:
// finding sessions reads each record, and the entry is pruned in time.
func (b *Backend) TouchOwned(ctx context.Context, owner, key string, ttl time.Duration) error {
	idx := b.indexKey(owner)
	replies, err := b.do(ctx, appendIndexExpiry([]command{{"ZADD", []any{idx, "GT", time.Now().Add(ttl).UnixMilli(), key}}}, idx, ttl)...)
	if err != nil {
		return err
	}
	return firstError(replies)
}

// List implements session.Lister: SCAN ... MATCH prefix* in steps of about
// scanCount keys, each step followed by one pipelined round trip of GET and
// PTTL per key. Keys under the prefix that hold no string are skipped.
func (b *Backend) List(ctx context.Context, prefix string, fn func([]session.Stored) error) error {
	pattern := globEscape(b.prefix+prefix) + "*"
	cursor := "0"
	for {
		var keys []string
		var err error
		if cursor, keys, err = b.scanStep(ctx, "SCAN", "", cursor, "MATCH", pattern); err != nil {
			return err
		}
		for i := range keys {
			keys[i] = strings.TrimPrefix(keys[i], b.prefix)
		}
		recs, err := b.Get(ctx, keys...)
		if err == nil && len(recs) > 0 {
			err = fn(recs)
		}
		if err != nil {
			return err
		}
		if cursor == "0" {
			return nil
		}
	}
}

// Get implements session.Lister: GET and PTTL per key, in one round trip.
func (b *Backend) Get(ctx context.Context, keys ...string) ([]session.Stored, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	cmds := make([]command, 0, 2*len(keys))
	for _, k := range keys {
		cmds = append(cmds, command{"GET", []any{b.prefix + k}}, command{"PTTL", []any{b.prefix + k}})
	}
	replies, err := b.do(ctx, cmds...)
	if err != nil {
		return nil, err
	}
	recs := make([]session.Stored, 0, len(keys))
	for i, k := range keys {
		data, err := redis.Bytes(replies[2*i], nil)
		if err != nil { // missing since the scan, or not a string
			continue
		}
		ttl, _ := redis.Int64(replies[2*i+1], nil)
		if ttl >= 0 {
			ttl *= int64(time.Millisecond)
		}
		recs = append(recs, session.Stored{Key: k, Data: data, TTL: time.Duration(ttl)})
	}
	return recs, nil
}

// noteDialed remembers the address the pool last dialed, for Describe.
func (b *Backend) noteDialed(addr string) {
	b.dialed.Store(&addr)
}

// Describe implements session.Describer: the address of the Redis server the pool
// last connected to (host:port, or a socket's path). Never credentials.
func (b *Backend) Describe() map[string]string {
	if a := b.dialed.Load(); a != nil {
		return map[string]string{"address": *a}
	}
	return nil
}

// PoolStats returns the pool's figures; it takes the pool's locks briefly.
func (b *Backend) PoolStats() session.PoolStats {
	switch p := b.pool.(type) {
	case *classicPool:
		st := p.Stats()
		return session.PoolStats{
			Active: st.ActiveCount, Idle: st.IdleCount, Waiting: int(p.waiting.Load()),
			Waits: st.WaitCount, WaitTime: st.WaitDuration,
		}
	case *pipeline.Pipeline:
		open, waiting := p.Stats()
		return session.PoolStats{Active: open, Waiting: waiting}
	}
	return session.PoolStats{}
}

// globEscape escapes the characters SCAN's MATCH treats as a pattern.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var sb strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			sb.WriteByte('\\')
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// Location implements session.Inspector: the Redis key.
func (b *Backend) Location(key string) string { return b.prefix + key }

// TTL implements session.Inspector with one PTTL.
func (b *Backend) TTL(ctx context.Context, key string) (time.Duration, bool, error) {
	var ms int64
	replies, err := b.do(ctx, command{"PTTL", []any{b.Location(key)}})
	if err == nil {
		ms, err = redis.Int64(replies[0], nil)
	}
	switch {
	case err != nil:
		return 0, false, err
	case ms == -2: // no such key
		return 0, false, nil
	case ms == -1: // no expiry
		return -1, true, nil
	}
	return time.Duration(ms) * time.Millisecond, true, nil
}
