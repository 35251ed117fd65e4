package handlers

import (
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"golang.org/x/text/language"

	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/web"
)

// Session keys of the preferences. A theme that follows the system is not
// stored: a visitor who only ever chose that keeps no session.
const (
	langKey  = "lang"  // a web.Text Tag
	themeKey = "theme" // "light" or "dark"
)

// themes are the values the theme switch sends.
var themes = map[string]bool{"light": true, "dark": true, "system": true}

// backPages are where the switches may send the visitor back to; anything
// else (a page that changes state, a URL from the form) goes to /get_email.
var backPages = map[string]bool{"/get_email": true, "/set_email": true}

// languageMatcher picks the page language for an Accept-Language header.
// Browsers send few distinct headers, so the answers for the first
// maxCachedAccepts short ones are kept rather than matched again on every
// request.
type languageMatcher struct {
	m      language.Matcher // web.Languages(), in order
	cache  sync.Map         // header -> *web.Text
	cached atomic.Int32
}

const (
	maxCachedAccepts     = 1024
	maxCachedAcceptBytes = 128
)

func newLanguageMatcher() *languageMatcher {
	var tags []language.Tag
	for _, t := range web.Languages() {
		tags = append(tags, language.MustParse(t.Tag))
	}
	return &languageMatcher{m: language.NewMatcher(tags)}
}

// match returns the best language for accept; English when none matches.
func (l *languageMatcher) match(accept string) *web.Text {
	if t, ok := l.cache.Load(accept); ok {
		return t.(*web.Text)
	}
	_, i := language.MatchStrings(l.m, accept)
	t := web.Languages()[i]
	// Load first: once full, misses leave the count alone, which would
	// otherwise wrap around.
	if len(accept) <= maxCachedAcceptBytes && l.cached.Load() < maxCachedAccepts && l.cached.Add(1) <= maxCachedAccepts {
		l.cache.Store(accept, t)
	}
	return t
}

// backTo returns path when the switches may return to it, else /get_email.
func backTo(path string) string {
	if backPages[path] {
		return path
	}
	return "/get_email"
}

// preferences returns the visitor's language and theme ("" follows the
// system): the ones stored in the session, else the best match for
// Accept-Language (English when nothing matches). A session that cannot be
// read counts as none, so pages that need no session keep working while the
// store is down; a request without a session cookie has none to read (a
// choice is stored by a request that then redirects). Nothing is stored: the
// guess alone creates no session.
func (s *server) preferences(c *gin.Context) (*web.Text, string) {
	var lang, theme string
	if v, ok := c.Get(sessions.DefaultKey); ok && s.hasSessionCookie(c) {
		if sess, ok := v.(sessions.Session); ok && session.Err(sess) == nil {
			lang, _ = sess.Get(langKey).(string)
			theme, _ = sess.Get(themeKey).(string)
		}
	}
	t := web.Language(lang)
	if t == nil {
		t = s.langs.match(c.GetHeader("Accept-Language"))
	}
	if theme != "light" && theme != "dark" {
		theme = ""
	}
	return t, theme
}

// handlePreferences stores the language (form field lang) and/or the theme
// (theme: light, dark or system) in the session, then sends the visitor
// back (field back) with 303. An unknown value is a 400 and stores nothing.
func (s *server) handlePreferences(c *gin.Context) {
	if !s.parseForm(c) {
		return
	}
	form := c.Request.PostForm
	lang, theme := form.Get("lang"), form.Get("theme")
	if lang == "" && theme == "" || lang != "" && web.Language(lang) == nil || theme != "" && !themes[theme] {
		s.errorPage(c, http.StatusBadRequest, web.UnknownPreferenceTitle, web.UnknownPreference)
		return
	}
	sess, ok := s.session(c)
	if !ok {
		return
	}
	if lang != "" {
		sess.Set(langKey, lang)
	}
	switch theme {
	case "":
	case "system":
		sess.Delete(themeKey)
	default:
		sess.Set(themeKey, theme)
	}
	if !s.save(c, sess) {
		return
	}
	c.Redirect(http.StatusSeeOther, backTo(form.Get("back")))
}
