package handlers

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/sessionsvc/sessionsvc/web"
)

type othersEndedPage struct {
	Email string
	Count int
}

// Summary says how many other sessions were ended, in t's language.
func (p othersEndedPage) Summary(t *web.Text) string {
	format := t.OthersMany
	switch p.Count {
	case 0:
		format = t.OthersNone
	case 1:
		format = t.OthersOne
	}
	return fmt.Sprintf(format, p.Count, p.Email)
}

// handleEndOtherSessions ends every other session of this session's email
// (other browsers, other devices) and keeps this one.
func (s *server) handleEndOtherSessions(c *gin.Context) {
	sess, ok := s.session(c)
	if !ok {
		return
	}
	email, _ := sess.Get("email").(string)
	if email == "" {
		s.errorPage(c, http.StatusBadRequest, web.NoEmailTitle, web.NoEmail)
		return
	}
	n, err := s.Store.EndOthers(c.Request.Context(), sess)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	if !s.save(c, sess) {
		return
	}
	s.render(c, http.StatusOK, "others_ended", othersEndedPage{Email: email, Count: n})
}
