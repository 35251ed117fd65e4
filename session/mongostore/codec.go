package mongostore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// This file turns a session's JSON (an object with sorted keys, as the
// session core encodes it) into the BSON document kept under "data", and
// back into exactly the bytes the core's encoder writes for those values,
// so that a session read and saved unchanged is written again byte for
// byte the same (which the core then skips).

// fields decodes a session's JSON object into its top-level names and the
// JSON of each value, as written.
func fields(data []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode session: %w", err)
	}
	if m == nil {
		return nil, fmt.Errorf("decode session: %q is not an object", data)
	}
	return m, nil
}

// toBSON decodes one JSON value into its BSON form: numbers become an
// int64 when they are one, a float64 otherwise; objects become documents
// with sorted, escaped names; arrays bson.A.
func toBSON(raw json.RawMessage) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode session value: %w", err)
	}
	return bsonValue(v)
}

// dataDoc is the "data" document of a session's JSON, and how many names
// it has.
func dataDoc(data []byte) (bson.D, int, error) {
	m, err := fields(data)
	if err != nil {
		return nil, 0, err
	}
	doc := make(bson.D, 0, len(m))
	for _, k := range sortedKeys(m) {
		v, err := toBSON(m[k])
		if err != nil {
			return nil, 0, err
		}
		doc = append(doc, bson.E{Key: escape(k), Value: v})
	}
	return doc, len(m), nil
}

// nestedArray is the one name of the document that holds an array that is
// an element of an array: FerretDB 1.x refuses arrays directly in arrays.
// escape never makes this name.
const nestedArray = "%array"

func bsonValue(v any) (any, error) {
	switch v := v.(type) {
	case nil, bool, string:
		return v, nil
	case json.Number:
		return number(string(v))
	case []any:
		a := make(bson.A, len(v))
		for i, e := range v {
			var err error
			if a[i], err = bsonValue(e); err != nil {
				return nil, err
			}
			if inner, ok := a[i].(bson.A); ok {
				a[i] = bson.D{{Key: nestedArray, Value: inner}}
			}
		}
		return a, nil
	case map[string]any:
		doc := make(bson.D, 0, len(v))
		for _, k := range sortedKeys(v) {
			e, err := bsonValue(v[k])
			if err != nil {
				return nil, err
			}
			doc = append(doc, bson.E{Key: escape(k), Value: e})
		}
		return doc, nil
	}
	return nil, fmt.Errorf("unexpected JSON value %T", v)
}

// number is a JSON number as an int64 when it is one, else a float64.
// Minus zero stays a float64, which encoding/json writes as "-0".
func number(s string) (any, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && (n != 0 || s[0] != '-') {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("session number %s: %w", s, err)
	}
	return f, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// escape makes a value's name safe as a field name and in a dotted path
// ("data.name"): "%" becomes "%25", "." "%2E", a NUL "%00" and a leading
// "$" "%24"; the empty name becomes "%". Every "%" in an escaped name
// thus starts an escape, and unescape reverses it.
func escape(name string) string {
	if name == "" {
		return "%"
	}
	if !strings.ContainsAny(name, "%.\x00") && name[0] != '$' {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '%':
			b.WriteString("%25")
		case c == '.':
			b.WriteString("%2E")
		case c == 0:
			b.WriteString("%00")
		case c == '$' && i == 0:
			b.WriteString("%24")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescape reverses escape.
func unescape(name string) string {
	if name == "%" {
		return ""
	}
	if !strings.Contains(name, "%") {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if name[i] == '%' && i+2 < len(name) {
			if c, err := strconv.ParseUint(name[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(c))
				i += 2
				continue
			}
		}
		b.WriteByte(name[i])
	}
	return b.String()
}

// appendJSON appends the JSON of a stored data document: names unescaped
// and sorted, values as encoding/json writes them.
func appendJSON(b []byte, doc bson.Raw) ([]byte, error) {
	elems, err := doc.Elements()
	if err != nil {
		return nil, err
	}
	type field struct {
		name string
		v    bson.RawValue
	}
	fs := make([]field, len(elems))
	for i, e := range elems {
		fs[i] = field{unescape(e.Key()), e.Value()}
	}
	slices.SortFunc(fs, func(a, b field) int { return strings.Compare(a.name, b.name) })
	b = append(b, '{')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f.name)
		b = append(b, ':')
		if b, err = appendValue(b, f.v); err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return append(b, '}'), nil
}

func appendValue(b []byte, v bson.RawValue) ([]byte, error) {
	switch v.Type {
	case bson.TypeString:
		return appendString(b, v.StringValue()), nil
	case bson.TypeInt64:
		return strconv.AppendInt(b, v.Int64(), 10), nil
	case bson.TypeInt32:
		return strconv.AppendInt(b, int64(v.Int32()), 10), nil
	case bson.TypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%v has no JSON form", f)
		}
		j, _ := json.Marshal(f)
		return append(b, j...), nil
	case bson.TypeBoolean:
		return strconv.AppendBool(b, v.Boolean()), nil
	case bson.TypeNull:
		return append(b, "null"...), nil
	case bson.TypeEmbeddedDocument:
		doc := v.Document()
		if elems, err := doc.Elements(); err == nil && len(elems) == 1 && elems[0].Key() == nestedArray && elems[0].Value().Type == bson.TypeArray {
			return appendValue(b, elems[0].Value())
		}
		return appendJSON(b, doc)
	case bson.TypeArray:
		vals, err := v.Array().Values()
		if err != nil {
			return nil, err
		}
		b = append(b, '[')
		for i, e := range vals {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendValue(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	return nil, fmt.Errorf("a BSON %v has no JSON form here", v.Type)
}

// appendString appends s as encoding/json writes it (HTML characters and
// U+2028/U+2029 escaped, invalid UTF-8 replaced).
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			j, _ := json.Marshal(s)
			return append(b, j...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
