package config

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// FuzzLoad sets one variable to an arbitrary value: Load never panics, and
// every error is one line naming a real variable and never shows a secret.
func FuzzLoad(f *testing.F) {
	var names []string
	typ := reflect.TypeOf(Config{})
	for i := 0; i < typ.NumField(); i++ {
		if name := typ.Field(i).Tag.Get("env"); name != "" {
			names = append(names, name)
		}
	}
	for i, seed := range []string{"", "0", "-1", "true", "1h", "redis://u:pw@h:1/2", "rediss://[::1", "None", "__Host-x", "\x00", "9223372036854775807", "1e9h", "postgresql://u:pw@h/db", "mysql+pymysql://u:pw@h/db?charset=utf8mb4", "sqlite:///s.db", "sql"} {
		f.Add(uint8(i), seed)
	}
	f.Fuzz(func(t *testing.T, which uint8, value string) {
		name := names[int(which)%len(names)]
		_, err := Load([]string{"HOME=/h", name + "=" + value, "GIN_MODE=release", "SECRET_KEY=" + strongKey})
		if err == nil {
			return
		}
		var cerr *Error
		if !errors.As(err, &cerr) {
			t.Fatalf("%s=%q: error %v is not a *config.Error", name, value, err)
		}
		if !slices.Contains(names, cerr.Var) || strings.ContainsAny(err.Error(), "\n\r") {
			t.Fatalf("%s=%q: error %q", name, value, err)
		}
		if (name == "SECRET_KEY" || name == "SECRET_KEY_FALLBACKS") && len(value) > 3 && strings.Contains(err.Error(), value) {
			t.Fatalf("%s: error shows the secret: %q", name, err)
		}
	})
}
