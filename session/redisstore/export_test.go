package redisstore

// SetPruneOneIn makes b prune an owner index on one write to it in n.
func SetPruneOneIn(b *Backend, n int) { b.pruneOneIn = n }
