package web

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// emailPage has the fields the email pages read.
type emailPage struct {
	Email string
	Error Msg
	Panel *struct{}
}

func TestChromeFollowsTheView(t *testing.T) {
	pages, err := LoadPages()
	if err != nil {
		t.Fatal(err)
	}
	render := func(v View) string {
		t.Helper()
		var b bytes.Buffer
		if err := pages.Execute(&b, "get_email", v); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	zh := Language("zh-Hans")
	for _, tc := range []struct {
		v    View
		want []string
	}{
		{View{T: Languages()[0], Langs: Languages(), Back: "/get_email", Page: emailPage{}},
			[]string{`<html lang="en">`, `content="light dark"`, `name="back" value="/get_email"`, `value="en" lang="en" aria-current="true"`, `value="system" aria-current="true"`}},
		{View{T: zh, Langs: Languages(), Theme: "dark", Back: "/set_email", Page: emailPage{}},
			[]string{`<html lang="zh-Hans" data-theme="dark">`, `content="dark"`, `name="back" value="/set_email"`, `value="zh-Hans" lang="zh-Hans" aria-current="true"`, `value="dark" aria-current="true"`}},
	} {
		for range 2 { // rendered, then from the cache
			page := render(tc.v)
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q:\n%s", w, page)
				}
			}
		}
	}

	// The cache stays bounded whatever the return pages are.
	for i := range 2 * maxChromes {
		render(View{T: zh, Langs: Languages(), Back: fmt.Sprintf("/p%d", i), Page: emailPage{}})
	}
	if n := len(pages.cache); n > maxChromes {
		t.Errorf("%d chromes cached, want at most %d", n, maxChromes)
	}
}

// BenchmarkRender renders the welcome page and the prompt: one template
// action costs one reflective call, so this is most of a page's CPU.
func BenchmarkRender(b *testing.B) {
	pages, err := LoadPages()
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	for _, tc := range []struct {
		name string
		page emailPage
	}{{"prompt", emailPage{}}, {"welcome", emailPage{Email: "alice@example.com"}}} {
		b.Run(tc.name, func(b *testing.B) {
			v := View{T: Languages()[0], Langs: Languages(), Back: "/get_email", Page: tc.page}
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err := pages.Execute(&buf, "get_email", v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestTextsAreEscapedWhenLoaded: a text put into a page when the pages are
// loaded is escaped for where it goes, as it would be at render time.
func TestTextsAreEscapedWhenLoaded(t *testing.T) {
	text := *Languages()[0]
	text.Site = `<i>"x" & 'y'</i>`
	text.Submit = `{{.Email}}</button><script>`
	for name, want := range map[string]string{
		"templates/layout.html":    `· &lt;i&gt;&#34;x&#34; &amp; &#39;y&#39;&lt;/i&gt;</title>`,
		"templates/set_email.html": `<button type="submit">{{.Email}}&lt;/button&gt;&lt;script&gt;</button>`,
	} {
		got, err := textsIn(&text, name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got, want) {
			t.Errorf("%s: no %q in\n%s", name, want, got)
		}
	}
}
