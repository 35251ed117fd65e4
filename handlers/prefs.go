package handlers

import (
	"net/http"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"golang.org/x/text/language"

	"github.com/sessionsvc/sessionsvc/sessionstore"
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

func newLanguageMatcher() language.Matcher {
	var tags []language.Tag
	for _, t := range web.Languages() {
		tags = append(tags, language.MustParse(t.Tag))
	}
	return language.NewMatcher(tags)
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
// store is down. Nothing is stored: the guess alone creates no session.
func (s *server) preferences(c *gin.Context) (*web.Text, string) {
	var lang, theme string
	if v, ok := c.Get(sessions.DefaultKey); ok {
		if sess, ok := v.(sessions.Session); ok && sessionstore.Err(sess) == nil {
			lang, _ = sess.Get(langKey).(string)
			theme, _ = sess.Get(themeKey).(string)
		}
	}
	t := web.Language(lang)
	if t == nil {
		_, i := language.MatchStrings(s.langs, c.GetHeader("Accept-Language"))
		t = web.Languages()[i]
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
