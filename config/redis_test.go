package config

import (
	"strings"
	"testing"
)

// redisURLCases are SESSION_REDIS values and what ParseRedisURL makes of
// them: the URL, or an error containing err (and never the password
// "secret").
var redisURLCases = []struct {
	in   string
	want RedisURL
	err  string
}{
	{"redis://127.0.0.1:6379/0", RedisURL{Network: "tcp", Address: "127.0.0.1:6379"}, ""},
	{"redis://localhost", RedisURL{Network: "tcp", Address: "localhost:6379"}, ""},
	{"redis://u:p%40ss@h:1/3", RedisURL{Network: "tcp", Address: "h:1", Username: "u", Password: "p@ss", DB: 3}, ""},
	{"redis://:pw@h", RedisURL{Network: "tcp", Address: "h:6379", Password: "pw"}, ""},
	{"redis://app@h", RedisURL{Network: "tcp", Address: "h:6379", Username: "app"}, ""},
	{"rediss://h:6380", RedisURL{Network: "tcp", Address: "h:6380", TLS: true}, ""},
	{"redis://[::1]:7000/2", RedisURL{Network: "tcp", Address: "[::1]:7000", DB: 2}, ""},
	{"unix:///run/redis.sock?db=4", RedisURL{Network: "unix", Address: "/run/redis.sock", DB: 4}, ""},
	{"unix://u:secret@/run/redis.sock", RedisURL{Network: "unix", Address: "/run/redis.sock", Username: "u", Password: "secret"}, ""},
	{"http://h", RedisURL{}, "scheme must be"},
	{"redis://", RedisURL{}, "no host"},
	{"redis://h/x", RedisURL{}, `database "x" is not a number`},
	{"redis://h/-1", RedisURL{}, `database "-1" is not a number`},
	{"unix://", RedisURL{}, "no socket path"},
	{"redis://u:secret@h/%zz", RedisURL{}, "not a URL"},

	{"redis-sentinel://s1#sessions", RedisURL{Network: "sentinel", Address: "s1:26379", MasterName: "sessions"}, ""},
	{"redis-sentinel://s1:5000,s2,10.0.0.3:26380/2#m", RedisURL{Network: "sentinel", Address: "s1:5000,s2:26379,10.0.0.3:26380", DB: 2, MasterName: "m"}, ""},
	{"redis-sentinel://secret@s1#m", RedisURL{Network: "sentinel", Address: "s1:26379", Password: "secret", MasterName: "m"}, ""},
	{"redis-sentinel://app:p%40ss@s1,[::1]:7000#m", RedisURL{Network: "sentinel", Address: "s1:26379,[::1]:7000", Username: "app", Password: "p@ss", MasterName: "m"}, ""},
	{"redis-sentinel://:secret@[::1]#m", RedisURL{Network: "sentinel", Address: "[::1]:26379", Password: "secret", MasterName: "m"}, ""},
	{"redis-sentinel://app:@s1#my%20master", RedisURL{}, "master name"},
	{"redis-sentinel://app:@s1#m", RedisURL{Network: "sentinel", Address: "s1:26379", Username: "app", MasterName: "m"}, ""},
	{"redis-sentinel://s1", RedisURL{}, "no master name"},
	{"redis-sentinel://secret@s1#", RedisURL{}, "no master name"},
	{"redis-sentinel://:secret@#m", RedisURL{}, "no sentinel host"},
	{"redis-sentinel://s1,,s2#m", RedisURL{}, `sentinel "" is not host[:port]`},
	{"redis-sentinel://s1:x#m", RedisURL{}, `port "x" is not a port number`},
	{"redis-sentinel://s1:70000#m", RedisURL{}, `port "70000" is not a port number`},
	{"redis-sentinel://::1#m", RedisURL{}, "is not host[:port]"},
	{"redis-sentinel://s1/x#m", RedisURL{}, `database "x" is not a number`},
	{"redis-sentinel://u:secret%zz@s1#m", RedisURL{}, "bad escape"},
}

func TestParseRedisURL(t *testing.T) {
	for _, tc := range redisURLCases {
		got, err := ParseRedisURL(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "secret") {
				t.Errorf("ParseRedisURL(%q) error = %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseRedisURL(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// TestRedisURLString checks that String hides the password and reads back
// as the same URL, but for the password.
func TestRedisURLString(t *testing.T) {
	for _, tc := range redisURLCases {
		if tc.err != "" {
			continue
		}
		s := tc.want.String()
		if tc.want.Password != "" && strings.Contains(s, tc.want.Password) {
			t.Errorf("%q: String() = %q shows the password", tc.in, s)
		}
		want := tc.want
		if want.Password != "" {
			want.Password = "xxxxx"
		}
		if got, err := ParseRedisURL(s); err != nil || got != want {
			t.Errorf("%q: String() = %q, read back as %+v, %v; want %+v", tc.in, s, got, err, want)
		}
	}
	if got, want := (RedisURL{Network: "tcp", Address: "h:6379", Password: "secret", DB: 2}).String(), "redis://:xxxxx@h:6379/2"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
