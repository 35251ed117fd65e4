// Package web holds the pages and their stylesheet, embedded in the binary so
// that nothing is loaded from another host.
package web

import (
	"embed"
	"html/template"
	"io/fs"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var static embed.FS

// Static is the stylesheet and other assets, served under /static/.
var Static, _ = fs.Sub(static, "static")

// Pages parses every page once: each is templates/layout.html filled with
// the page's own "title" and "content" blocks. The map is keyed by the
// page's file name without ".html".
func Pages() (map[string]*template.Template, error) {
	layout, err := template.ParseFS(templateFiles, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, name := range names {
		page := name[len("templates/") : len(name)-len(".html")]
		if page == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFiles, name)
		if err != nil {
			return nil, err
		}
		pages[page] = t
	}
	return pages, nil
}
