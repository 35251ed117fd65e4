package sessionstore

import (
	"strings"
	"testing"
)

func TestEncodeDataRefusesReservedAndOddKeys(t *testing.T) {
	for _, values := range []map[any]any{
		{"__created": 1},
		{"__anything": "x"},
		{42: "x"},
	} {
		if _, err := encodeData(values, 0); err == nil {
			t.Errorf("encodeData(%v) succeeded", values)
		}
	}
	data, err := encodeData(map[any]any{"b": "2", "a": "1", stateKey{}: &state{}}, 17)
	if err != nil || string(data) != `{"__created":17,"a":"1","b":"2"}` {
		t.Errorf("encodeData = %s, %v", data, err)
	}
	values := map[any]any{}
	m, err := decodeData(data, values)
	if err != nil || m.created != 17 || len(values) != 2 || values["a"] != "1" {
		t.Errorf("decodeData = %+v %v, %v", m, values, err)
	}
}

func TestSealID(t *testing.T) {
	oldID, newID := NewID(), NewID()
	sealed := sealID(oldID, newID)
	if sealed == newID || strings.Contains(string(forwardData(oldID, newID)), newID) {
		t.Fatal("sealing did not hide the ID")
	}
	if got := unsealID(oldID, sealed); got != newID {
		t.Errorf("unseal = %q, want %q", got, newID)
	}
	if got := unsealID(NewID(), sealed); got == newID {
		t.Error("another key unsealed it")
	}
	if got := unsealID(oldID, "!!"); got != "" {
		t.Errorf("unseal of garbage = %q", got)
	}
}
