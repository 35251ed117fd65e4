package sessionstore

// SetPruneOneIn makes b prune an owner index on one write to it in n.
func SetPruneOneIn(b *Redis, n int) { b.pruneOneIn = n }
