package redisstore

// SetPruneOneIn makes b prune an owner index on one write to it in n.
func SetPruneOneIn(b *Backend, n int) { b.pruneOneIn = n }

// CASScript is the script of conditional writes, for tests that load it
// ahead, as a backend's first conditional write does.
const CASScript = casScript
