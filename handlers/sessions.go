package handlers

import (
	"context"
	"net/http"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
)

// otherSessionsEnder is a store that can end the other sessions of a
// session's email (sessionstore.Store).
type otherSessionsEnder interface {
	EndOthers(ctx context.Context, sess sessions.Session) (int, error)
	CanFind() bool
}

// endsOthers returns the store as an otherSessionsEnder when it can end
// other sessions: not with cookie sessions, which live only in browsers.
func (s *server) endsOthers() (otherSessionsEnder, bool) {
	e, ok := s.Store.(otherSessionsEnder)
	return e, ok && e.CanFind()
}

type othersEndedPage struct {
	Email string
	Count int
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
		s.errorPage(c, http.StatusBadRequest, "No email in this session", "Other sessions are found by their email: please enter yours first.")
		return
	}
	ender, _ := s.endsOthers()
	n, err := ender.EndOthers(c.Request.Context(), sess)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	if !s.save(c, sess) {
		return
	}
	s.render(c, http.StatusOK, "others_ended", othersEndedPage{Email: email, Count: n})
}
