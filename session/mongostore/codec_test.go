package mongostore_test

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sessionsvc/sessionsvc/internal/mongotest"
	"github.com/sessionsvc/sessionsvc/session"
)

// roundTripValues are session values of every JSON kind, with names that
// need escaping in a document.
var roundTripValues = map[string]any{
	"email":    "a@example.com",
	"html":     `<script>alert("&")</script> \ back`,
	"unicode":  "héllo wörld 世界 \u2028\u2029 \x01 \t",
	"nested":   map[string]any{"b": 1, "a": []any{"x", 2.5, nil, true}, "$op": "v", "dot.ted": map[string]any{}, "50%": "half"},
	"list":     []any{1, -2, 3.25, "s", []any{}, map[string]any{"k": "v"}, []any{[]any{1}}},
	"int":      42,
	"maxint":   int64(math.MaxInt64),
	"minint":   int64(math.MinInt64),
	"neg":      -7,
	"float":    0.1,
	"tiny":     1e-9,
	"huge":     1e21,
	"bigfloat": 1e20,
	"yes":      true,
	"no":       false,
	"nil":      nil,
	"empty":    "",
	"dot.name": "d",
	"$dollar":  "x",
	"mid$dle":  "m",
	"per%cent": "p",
	"%2E":      "looks escaped",
	"%":        "a lone percent",
	"":         "the empty name",
}

// encode is what the session core stores for values: encoding/json's
// output, keys sorted.
func encode(t testing.TB, values map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reencode decodes data as the core does (numbers as json.Number) and
// encodes it again.
func reencode(t testing.TB, data []byte) []byte {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return encode(t, m)
}

// A session loads back as exactly the bytes it was saved as, and saving
// what was loaded gives the same bytes again, so an unchanged session is
// never written; a change of some values, by their dotted paths, too.
func TestJSONRoundTrip(t *testing.T) {
	srv := mongotest.Start(t)
	b := open(t, srv, nil)
	ctx := t.Context()
	key := session.NewID()
	want := encode(t, roundTripValues)
	if err := b.Write(ctx, session.Record{Key: key, Data: want, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	got, found, err := b.Load(ctx, key, 0)
	if err != nil || !found {
		t.Fatalf("Load = %v, %v", found, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("loaded\n%s\nwant\n%s", got, want)
	}
	if again := reencode(t, got); !bytes.Equal(again, got) {
		t.Errorf("encode(decode(load())) =\n%s\nwant\n%s", again, got)
	}

	// Minus zero comes back as itself from MongoDB, and as 0 from FerretDB
	// 1.x, which keeps no sign of zero; loaded again, it stays as it came.
	zero := session.NewID()
	if err := b.Write(ctx, session.Record{Key: zero, Data: encode(t, map[string]any{"z": math.Copysign(0, -1)}), TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := b.Load(ctx, zero, 0); string(got) != `{"z":-0}` && string(got) != `{"z":0}` || !bytes.Equal(reencode(t, got), got) {
		t.Errorf("minus zero loaded as %s", got)
	}

	// Change, add and remove values with names that need escaping.
	changed := map[string]any{}
	for k, v := range roundTripValues {
		changed[k] = v
	}
	changed["dot.name"] = map[string]any{"now": "an object"}
	changed["$dollar"] = []any{"now", "a list"}
	changed["per%cent"] = 100
	changed["$new.one%"] = "added"
	delete(changed, "")
	delete(changed, "nil")
	next := encode(t, changed)
	if err := b.Write(ctx, session.Record{Key: key, Data: next, TTL: time.Hour, Loaded: got}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := b.Load(ctx, key, time.Hour); !bytes.Equal(got, next) || err != nil {
		t.Errorf("after a change, loaded\n%s, %v\nwant\n%s", got, err, next)
	}
	var doc struct{ N int }
	if err := b.Collection().FindOne(ctx, bson.D{{Key: "_id", Value: "session:" + key}}).Decode(&doc); err != nil || doc.N != len(changed) {
		t.Errorf("n = %d, %v; want %d", doc.N, err, len(changed))
	}
}

// The document is what a person expects in mongosh: the values as fields
// of data, strings as strings, numbers as numbers, a count, a date and
// the owner.
func TestDocumentIsReadable(t *testing.T) {
	srv := mongotest.Start(t)
	b := open(t, srv, nil)
	ctx := t.Context()
	key := session.NewID()
	data := []byte(`{"cart":[1,2],"email":"a@example.com","visits":3}`)
	if err := b.Write(ctx, session.Record{Key: key, Data: data, TTL: time.Hour, Owner: "a@example.com"}); err != nil {
		t.Fatal(err)
	}
	raw, err := b.Collection().FindOne(ctx, bson.D{{Key: "_id", Value: "session:" + key}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		typ  bson.Type
		want string
	}{
		{"_id", bson.TypeString, `"session:` + key + `"`},
		{"data.email", bson.TypeString, `"a@example.com"`},
		{"data.visits", bson.TypeInt64, `{"$numberLong":"3"}`},
		{"data.cart", bson.TypeArray, ""},
		{"n", bson.TypeInt32, `{"$numberInt":"3"}`},
		{"expiry", bson.TypeDateTime, ""},
		{"owner", bson.TypeString, `"a@example.com"`},
	} {
		v, err := raw.LookupErr(splitPath(tc.path)...)
		if err != nil {
			t.Errorf("%s: %v in %v", tc.path, err, raw)
			continue
		}
		if v.Type != tc.typ || tc.want != "" && v.String() != tc.want {
			t.Errorf("%s = %v %s, want %v %s", tc.path, v.Type, v, tc.typ, tc.want)
		}
	}
	if exp, _ := raw.Lookup("expiry").DateTimeOK(); time.Until(time.UnixMilli(exp)) < 59*time.Minute {
		t.Errorf("expiry %v, want an hour from now", time.UnixMilli(exp))
	}
}

func splitPath(p string) []string {
	var out []string
	for len(p) > 0 {
		i := 0
		for i < len(p) && p[i] != '.' {
			i++
		}
		out = append(out, p[:i])
		if i == len(p) {
			break
		}
		p = p[i+1:]
	}
	return out
}
