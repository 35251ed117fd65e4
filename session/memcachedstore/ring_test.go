package memcachedstore

import (
	"fmt"
	"testing"
)

// The ring is libmemcached's weighted ketama: keys land where libmemcached's
// own compatibility test (test/fixtures/ketama.hpp, ketama_test_cases, with
// MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED) says they do, over its eight weighted
// servers; here every fifth of its 99 cases.
func TestRingMatchesLibmemcached(t *testing.T) {
	servers := []string{"10.0.1.1:11211", "10.0.1.2:11211", "10.0.1.3:11211", "10.0.1.4:11211", "10.0.1.5:11211", "10.0.1.6:11211", "10.0.1.7:11211", "10.0.1.8:11211"}
	r := newRing(servers, []uint32{600, 300, 200, 350, 1000, 800, 950, 100})
	for _, tc := range []struct {
		key    string
		hash   uint32
		server string
	}{
		{"SVa_]_V41)", 443691461, "10.0.1.7:11211"},
		{"]VG<`I*Z8)", 1103544263, "10.0.1.5:11211"},
		{"726bW=9*a4", 4213440020, "10.0.1.7:11211"},
		{"P1L?NAB[)K", 2129972569, "10.0.1.1:11211"},
		{"`,SS]NBP,b", 1883545960, "10.0.1.1:11211"},
		{"U))Fb-(`,.", 4128682289, "10.0.1.7:11211"},
		{"2TLRL/UL;:", 1086800909, "10.0.1.7:11211"},
		{"HZAU*;P*N]", 2564670474, "10.0.1.7:11211"},
		{"XY\\X::LX50", 1749241099, "10.0.1.6:11211"},
		{"8*6a;Sc*X+", 4223431086, "10.0.1.2:11211"},
		{"QR(a+Q=1FU", 3238535074, "10.0.1.6:11211"},
		{"ZY16KQ<ICD", 1831153193, "10.0.1.4:11211"},
		{"2;M;ES>J5/", 2776949824, "10.0.1.7:11211"},
		{"`@L+W;a,O[", 1512157148, "10.0.1.6:11211"},
		{"0OZH^9BKM[", 3682518606, "10.0.1.8:11211"},
		{"A(`KF:[RH8", 3292979676, "10.0.1.6:11211"},
		{"\\R^7=9UCG`", 126218373, "10.0.1.5:11211"},
		{"WS/3H*)7F;", 419488232, "10.0.1.5:11211"},
		{"4*=.SPR[AV", 3928582722, "10.0.1.1:11211"},
		{"[1ZXONX2]a", 4108881567, "10.0.1.4:11211"},
	} {
		if got := keyHash(tc.key); got != tc.hash {
			t.Errorf("keyHash(%q) = %d, want %d", tc.key, got, tc.hash)
		}
		if got := servers[r.pick(tc.key)]; got != tc.server {
			t.Errorf("%q is on %s, want %s", tc.key, got, tc.server)
		}
	}
	// VDEAAAAA hashes past the last point: it wraps around to the first.
	if h := keyHash("VDEAAAAA"); h != 0xfffcd1b5 || h <= r.points[len(r.points)-1].value {
		t.Fatalf("keyHash(VDEAAAAA) = %x, last point %x", h, r.points[len(r.points)-1].value)
	}
	if got, want := r.pick("VDEAAAAA"), r.points[0].server; got != want {
		t.Errorf("VDEAAAAA is on server %d, want %d (the first point's)", got, want)
	}
}

// Equal weights give each server 160 points; the name on the ring drops the
// default port, as libmemcached's does.
func TestRingPoints(t *testing.T) {
	for n := 1; n <= 12; n++ {
		servers := make([]string, n)
		for i := range servers {
			servers[i] = fmt.Sprintf("10.0.0.%d:11211", i+1)
		}
		r := newRing(servers, nil)
		count := make([]int, n)
		for _, p := range r.points {
			count[p.server]++
		}
		for i, c := range count {
			if c != 160 {
				t.Errorf("%d servers: server %d has %d points, want 160", n, i, c)
			}
		}
	}
	for server, want := range map[string]string{
		"10.0.1.1:11211":   "10.0.1.1",
		"10.0.1.1:11212":   "10.0.1.1:11212",
		"cache-a:11211":    "cache-a",
		"[::1]:11311":      "::1:11311",
		"/run/memcached.s": "/run/memcached.s:0",
	} {
		if got := ringName(server); got != want {
			t.Errorf("ringName(%q) = %q, want %q", server, got, want)
		}
	}
}
