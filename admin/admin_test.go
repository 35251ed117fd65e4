package admin

import (
	"slices"
	"testing"
)

func TestParseSessionsArgs(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		pos   []string
		email string
		full  bool
		err   string
	}{
		{[]string{"list", "--email", "a@b.c"}, []string{"list"}, "a@b.c", false, ""},
		{[]string{"--email=a@b.c", "list"}, []string{"list"}, "a@b.c", false, ""},
		{[]string{"show", "-full-ids", "-AbCdEf"}, []string{"show", "-AbCdEf"}, "", true, ""},
		{[]string{"show", "--", "--AbCdE"}, []string{"show", "--AbCdE"}, "", false, ""},
		{[]string{"list", "--color"}, nil, "", false, "flag provided but not defined: -color"},
		{[]string{"list", "--email"}, nil, "", false, "flag needs an argument: -email"},
	} {
		pos, email, full, _, err := parseSessionsArgs(tc.args)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: error %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(pos, tc.pos) || email != tc.email || full != tc.full {
			t.Errorf("%q = %q %q %v %v, want %q %q %v", tc.args, pos, email, full, err, tc.pos, tc.email, tc.full)
		}
	}
}
