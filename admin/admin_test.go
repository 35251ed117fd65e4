package admin

import (
	"encoding/json"
	"testing"
)

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "alice@example.com", "alice@example.com"},
		{"quoted local part", `"john doe"@example.com`, `"john doe"@example.com`},
		{"letters beyond ASCII", "josé@exämple.com", "josé@exämple.com"},
		{"empty", "", ""},
		{"tab", "a\tb@x.org", `"a\tb@x.org"`},
		{"escape sequence", "a\x1b[2J@x.org", `"a\x1b[2J@x.org"`},
		{"C1 control sequence introducer", "a\u009b2J@x.org", `"a\u009b2J@x.org"`},
		{"bidi override", "evil\u202egro.x@a", `"evil\u202egro.x@a"`},
		{"bidi isolate", "a\u2067b@x.org", `"a\u2067b@x.org"`},
		{"zero-width characters", "a\u200bb\u200cc\u200dd\u2060e\ufeff@x.org", `"a\u200bb\u200cc\u200dd\u2060e\ufeff@x.org"`},
		{"line and paragraph separators", "a\u2028b\u2029@x.org", `"a\u2028b\u2029@x.org"`},
		{"no-break space", "a\u00a0b@x.org", `"a\u00a0b@x.org"`},
		{"invalid UTF-8", "a\xff@x.org", `"a\xff@x.org"`},
		{"in double quotes", `"a@x.org"`, `"\"a@x.org\""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := printable(tc.in); got != tc.want {
				t.Errorf("printable(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

// TestPrintableJSON: the values line escapes what json.Marshal leaves
// invisible, and still reads back as the same values.
func TestPrintableJSON(t *testing.T) {
	values := map[string]any{"email": "evil\u202e@x.org", "note": "a\u009bb\u200bc\U000e0001d\u2028", "plain": "ok"}
	b, err := json.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	got := printableJSON(b)
	const want = `{"email":"evil\u202e@x.org","note":"a\u009bb\u200bc\udb40\udc01d\u2028","plain":"ok"}`
	if got != want {
		t.Errorf("printableJSON = %s, want %s", got, want)
	}
	var back map[string]any
	if err := json.Unmarshal([]byte(got), &back); err != nil || back["email"] != values["email"] || back["note"] != values["note"] {
		t.Errorf("%s reads back as %q, %v; want %q", got, back, err, values)
	}
}
