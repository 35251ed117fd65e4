package web

import (
	"reflect"
	"strings"
	"testing"
)

// TestTextsComplete checks that every language has every sentence. The
// only empty one allowed is English's PromptAfter: the tutorial's prompt
// ends with its link.
func TestTextsComplete(t *testing.T) {
	for _, lang := range Languages() {
		v := reflect.ValueOf(*lang)
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.Type.Kind() == reflect.String && v.Field(i).String() == "" && !(lang.Tag == "en" && f.Name == "PromptAfter") {
				t.Errorf("%s: %s is empty", lang.Tag, f.Name)
			}
			// Texts are put into the templates before they are parsed.
			if s := v.Field(i).String(); strings.Contains(s, "{{") || strings.Contains(s, "}}") {
				t.Errorf("%s: %s holds a template delimiter: %q", lang.Tag, f.Name, s)
			}
		}
		for m := NoMsg + 1; m < msgCount; m++ {
			if lang.Say(m) == "" {
				t.Errorf("%s: message %d is empty", lang.Tag, m)
			}
		}
		if Language(lang.Tag) != lang {
			t.Errorf("Language(%q) does not find it", lang.Tag)
		}
	}
	if Language("fr") != nil || Languages()[0].Tag != "en" {
		t.Error("Language(fr) found something, or English is not the default")
	}
}
