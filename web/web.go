// Package web holds the pages and their stylesheet, embedded in the binary so
// that nothing is loaded from another host.
package web

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"strings"
	"sync"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var static embed.FS

// Static is the stylesheet and other assets, served under /static/.
var Static, _ = fs.Sub(static, "static")

// View is what every page template gets: the layout's data and, in Page,
// the page's own.
type View struct {
	T     *Text   // the texts in the visitor's language
	Langs []*Text // the language switch's choices
	Theme string  // "light", "dark", or "" to follow the system
	Back  string  // where the switches return to
	Page  any
	// Chrome is set by Pages.Execute.
	Chrome Chrome
}

// Chrome is the start of every page's head and its footer (the language
// and theme switches), rendered for one language, theme and return page.
type Chrome struct{ Head, Footer template.HTML }

// Pages are the parsed pages. Rendering a page costs one reflective call
// per template action, so what is the same for many visitors is rendered
// ahead: each page's texts (its [[.T.Field]] actions) when the pages are
// loaded, once per language; the chrome, the same for every visitor with
// the same preferences, once per combination, and kept.
type Pages struct {
	pages  map[pageKey]*template.Template
	chrome *template.Template // "head" and "footer"
	mu     sync.Mutex
	cache  map[chromeKey]Chrome
}

type pageKey struct{ lang, page string }

type chromeKey struct{ lang, theme, back string }

// maxChromes bounds the chrome cache: languages x themes x return pages.
const maxChromes = 64

// LoadPages parses every page once per language: each is
// templates/layout.html filled with the page's own "title" and "content"
// blocks, named by its file name without ".html", with its [[.T.Field]]
// actions replaced by the language's escaped text.
func LoadPages() (*Pages, error) {
	chrome, err := template.ParseFS(templateFiles, "templates/chrome.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &Pages{pages: map[pageKey]*template.Template{}, chrome: chrome, cache: map[chromeKey]Chrome{}}
	for _, t := range Languages() {
		src, err := textsIn(t, "templates/layout.html")
		if err != nil {
			return nil, err
		}
		layout, err := template.New("layout").Parse(src)
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			page := name[len("templates/") : len(name)-len(".html")]
			if page == "layout" || page == "chrome" {
				continue
			}
			if src, err = textsIn(t, name); err != nil {
				return nil, err
			}
			set := template.Must(layout.Clone())
			if _, err := set.New(page).Parse(src); err != nil {
				return nil, err
			}
			p.pages[pageKey{t.Tag, page}] = set
		}
	}
	return p, nil
}

// textsIn returns the template file name with its [[.T.Field]] actions
// rendered in language t.
func textsIn(t *Text, name string) (string, error) {
	src, err := fs.ReadFile(templateFiles, name)
	if err != nil {
		return "", err
	}
	texts, err := template.New(name).Delims("[[", "]]").Parse(string(src))
	if err != nil {
		return "", err
	}
	var out strings.Builder
	if err := texts.Execute(&out, View{T: t}); err != nil {
		return "", err
	}
	return out.String(), nil
}

// Execute renders page with v into w.
func (p *Pages) Execute(w io.Writer, page string, v View) error {
	t, ok := p.pages[pageKey{v.T.Tag, page}]
	if !ok {
		return fmt.Errorf("no page %q", page)
	}
	c, err := p.chromeFor(v)
	if err != nil {
		return err
	}
	v.Chrome = c
	return t.Execute(w, v)
}

func (p *Pages) chromeFor(v View) (Chrome, error) {
	key := chromeKey{v.T.Tag, v.Theme, v.Back}
	p.mu.Lock()
	c, ok := p.cache[key]
	p.mu.Unlock()
	if ok {
		return c, nil
	}
	var head, footer strings.Builder
	if err := p.chrome.ExecuteTemplate(&head, "head", v); err != nil {
		return Chrome{}, err
	}
	if err := p.chrome.ExecuteTemplate(&footer, "footer", v); err != nil {
		return Chrome{}, err
	}
	c = Chrome{template.HTML(head.String()), template.HTML(footer.String())}
	p.mu.Lock()
	if len(p.cache) < maxChromes {
		p.cache[key] = c
	}
	p.mu.Unlock()
	return c, nil
}
