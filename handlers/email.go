package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/mail"
	"strings"
	"unicode"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"

	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/web"
)

// maxEmailLen is the longest address SMTP can carry (RFC 5321 path limit).
const maxEmailLen = 254

// maxFormBytes bounds a form's body.
const maxFormBytes = 16 << 10

// emailPage is the data of the email pages: the address, why it was
// rejected, and (debug mode, welcome page) the session's panel.
type emailPage struct {
	Email string
	Error web.Msg
	Panel *debugPanel
}

func (s *server) handleSetEmailForm(c *gin.Context) {
	s.render(c, http.StatusOK, "set_email", emailPage{})
}

func (s *server) handleSetEmail(c *gin.Context) {
	if !s.parseForm(c) {
		return
	}
	email := strings.TrimSpace(c.Request.PostForm.Get("email_address"))
	if msg := checkEmail(email); msg != web.NoMsg {
		s.render(c, http.StatusBadRequest, "set_email", emailPage{Email: email, Error: msg})
		return
	}
	sess, ok := s.session(c)
	if !ok {
		return
	}
	// A new email is the tutorial's login: the session gets a new ID, so an
	// ID planted or seen before cannot follow the visitor in. The same email
	// again changes nothing and writes nothing.
	if old, _ := sess.Get("email").(string); old != email {
		session.Renew(sess)
		sess.Set("email", email)
	}
	if !s.save(c, sess) {
		return
	}
	c.Redirect(http.StatusSeeOther, "/get_email")
}

func (s *server) handleGetEmail(c *gin.Context) {
	if !s.hasSessionCookie(c) && !s.Debug { // the debug panel shows even an empty session
		s.render(c, http.StatusOK, "get_email", emailPage{})
		return
	}
	sess, ok := s.session(c)
	if !ok || !s.save(c, sess) {
		return
	}
	page := emailPage{}
	page.Email, _ = sess.Get("email").(string)
	if s.Debug {
		page.Panel = s.debugPanel(c, sess)
	}
	s.render(c, http.StatusOK, "get_email", page)
}

// handleDeleteEmailGET is the tutorial's GET /delete_email, the one GET
// that changes state, so a link on another site must not be able to. It
// deletes the email when the request shows it came from this service (see
// sourceOf), refuses it with 403 when it shows it came from elsewhere, and
// otherwise deletes nothing and answers a page with a button that posts
// the same request (POSTs are checked by refuseCrossOrigin).
func (s *server) handleDeleteEmailGET(c *gin.Context) {
	switch s.sourceOf(c.Request) {
	case sourceSameOrigin:
		s.handleDeleteEmail(c)
	case sourceElsewhere:
		s.forbidCrossSite(c)
	default:
		s.render(c, http.StatusOK, "confirm_delete_email", nil)
	}
}

func (s *server) handleDeleteEmail(c *gin.Context) {
	sess, ok := s.session(c)
	if !ok {
		return
	}
	sess.Delete("email")
	if !s.save(c, sess) {
		return
	}
	s.render(c, http.StatusOK, "delete_email", nil)
}

// handleDeleteSession ends the session: the server copy is deleted and the
// cookie expired; with ClearSiteData, the browser is also told to drop
// every cookie of the site.
func (s *server) handleDeleteSession(c *gin.Context) {
	sess, ok := s.session(c)
	if !ok {
		return
	}
	session.Destroy(sess)
	if !s.save(c, sess) {
		return
	}
	if s.ClearSiteData {
		c.Header("Clear-Site-Data", `"cookies"`)
	}
	s.render(c, http.StatusOK, "session_ended", nil)
}

// checkEmail returns why email is not a plain address (local@domain, at
// most 254 bytes, no display name or comment, no hidden character), or
// web.NoMsg when it is one.
func checkEmail(email string) web.Msg {
	switch {
	case email == "":
		return web.EmailMissing
	case len(email) > maxEmailLen:
		return web.EmailTooLong
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || strings.HasPrefix(email, "<") || strings.ContainsFunc(email, hidden) {
		return web.EmailInvalid
	}
	return web.NoMsg
}

// hidden reports whether r does not show as itself wherever the address
// is printed: a C0 or C1 control character (TAB, CR and LF included), a
// format character (unicode.Cf: bidi controls such as U+202E, zero-width
// characters such as U+200B and U+FEFF) or a line or paragraph separator
// (U+2028, U+2029). net/mail takes TAB, CR and LF in a quoted local part
// and the others as it takes any character beyond ASCII.
func hidden(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// parseForm reads the request's form. On failure it answers (413 for a body
// over maxFormBytes, 400 otherwise) and returns false.
func (s *server) parseForm(c *gin.Context) bool {
	err := c.Request.ParseForm()
	if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
		s.errorPage(c, http.StatusRequestEntityTooLarge, web.RequestTooLargeTitle, web.RequestTooLarge)
		return false
	}
	if err != nil {
		s.errorPage(c, http.StatusBadRequest, web.BadRequestTitle, web.BadRequest)
		return false
	}
	return true
}

// session loads the request's session. When the store cannot be read it
// answers 503 and returns false: an outage must not look like "no session".
func (s *server) session(c *gin.Context) (sessions.Session, bool) {
	sess := sessions.Default(c)
	if err := session.Err(sess); err != nil {
		s.unavailable(c, err)
		return nil, false
	}
	c.Set(sessionLogKey, sess.ID())
	return sess, true
}

// hasSessionCookie reports whether the request names a session. Without a
// cookie there is none to read: an empty one would be made, and saved as
// nothing.
func (s *server) hasSessionCookie(c *gin.Context) bool {
	_, err := c.Request.Cookie(s.CookieName)
	return err == nil
}

// save saves the session (and sends its cookie when due) before the page is
// written. On failure it answers and returns false; nothing was stored.
func (s *server) save(c *gin.Context, sess sessions.Session) bool {
	err := session.Save(sess)
	switch {
	case err == nil:
		if id := sess.ID(); id != "" { // a new or renewed ID; a destroyed session keeps the old one in the log
			c.Set(sessionLogKey, id)
		}
		return true
	case errors.Is(err, session.ErrRetired):
		s.errorPage(c, http.StatusConflict, web.RetiredTitle, web.Retired)
	case errors.Is(err, session.ErrTooLarge):
		s.Logger.WarnContext(c.Request.Context(), "session too large", "error", err)
		s.errorPage(c, http.StatusRequestEntityTooLarge, web.TooMuchDataTitle, web.TooMuchData)
	default:
		s.unavailable(c, err)
	}
	return false
}

// statusClientClosedRequest is what the request log shows for a request
// whose client went away before the store answered (nginx's 499).
const statusClientClosedRequest = 499

// unavailable logs a store failure once and answers 503 with Retry-After.
// When the store call failed because the client went away, nothing failed
// but that request: it is logged as such, with no answer to read.
func (s *server) unavailable(c *gin.Context, err error) {
	if c.Request.Context().Err() != nil && errors.Is(err, context.Canceled) {
		s.Logger.InfoContext(c.Request.Context(), "client went away while the session store was asked")
		c.AbortWithStatus(statusClientClosedRequest)
		return
	}
	s.Logger.ErrorContext(c.Request.Context(), "session store unavailable", "store", s.StoreName, "error", err)
	c.Header("Retry-After", "5")
	s.errorPage(c, http.StatusServiceUnavailable, web.UnavailableTitle, web.Unavailable)
}

// noStore keeps pages that show session data out of shared and browser
// caches.
func noStore(c *gin.Context) {
	c.Writer.Header()["Cache-Control"] = noStoreValue
	c.Next()
}

// limitBody caps the request body at maxFormBytes.
func limitBody(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxFormBytes)
	c.Next()
}
