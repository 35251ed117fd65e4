package memcachedstore

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"slices"
	"strings"
)

// ring maps keys to servers by consistent hashing: the continuum of
// libmemcached's weighted ketama (MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED,
// pylibmc's "ketama_weighted"), so that those clients, given the same
// servers, put each key on the same server as this store.
//
// Each server has 160 points (with equal weights): for i from 0 to 39, the
// MD5 digest of "NAME-i" gives four points, its four little-endian uint32s.
// NAME is the server's host, with ":port" unless the port is 11211 (as
// libmemcached writes it), or a unix socket's path with ":0". A key goes
// to the server of the first point at or after the first little-endian
// uint32 of the MD5 of the key, wrapping around to the first point.
//
// Adding a server to n moves about 1/(n+1) of the keys, all to the new
// server; a server that is down keeps its points (see Backend).
type ring struct {
	points []point // sorted by value
}

type point struct {
	value  uint32
	server int // index in the server list
}

// pointsPerServer is libmemcached's MEMCACHED_POINTS_PER_SERVER_KETAMA.
const pointsPerServer = 160

// newRing returns the ring of servers (host:port or a unix socket's path),
// with weights (nil: all equal).
func newRing(servers []string, weights []uint32) ring {
	var total uint64
	for i := range servers {
		total += uint64(weight(weights, i))
	}
	var r ring
	for i, server := range servers {
		// libmemcached's formula, in single precision as it computes it:
		// with equal weights every server gets 160 points.
		pct := float32(weight(weights, i)) / float32(total)
		f := float32(float64(float32(float32(pct*pointsPerServer)/4)*float32(len(servers))) + 0.0000000001)
		n := int(math.Floor(float64(f))) * 4
		name := ringName(server)
		for i2 := range n / 4 {
			sum := md5.Sum(fmt.Appendf(nil, "%s-%d", name, i2))
			for j := range 4 {
				r.points = append(r.points, point{binary.LittleEndian.Uint32(sum[4*j:]), i})
			}
		}
	}
	slices.SortStableFunc(r.points, func(a, b point) int {
		switch {
		case a.value < b.value:
			return -1
		case a.value > b.value:
			return 1
		}
		return 0
	})
	return r
}

func weight(weights []uint32, i int) uint32 {
	if weights == nil {
		return 1
	}
	return weights[i]
}

// ringName is how libmemcached names a server on the continuum.
func ringName(server string) string {
	if strings.Contains(server, "/") {
		return server + ":0"
	}
	host, port, err := net.SplitHostPort(server)
	if err != nil {
		return server
	}
	if port == "11211" {
		return host
	}
	return host + ":" + port
}

// keyHash is the position of key on the ring.
func keyHash(key string) uint32 {
	sum := md5.Sum([]byte(key))
	return binary.LittleEndian.Uint32(sum[:4])
}

// pick returns the index of key's server.
func (r ring) pick(key string) int {
	h := keyHash(key)
	i, _ := slices.BinarySearchFunc(r.points, h, func(p point, h uint32) int {
		switch {
		case p.value < h:
			return -1
		case p.value > h:
			return 1
		}
		return 0
	})
	if i == len(r.points) {
		i = 0
	}
	return r.points[i].server
}
