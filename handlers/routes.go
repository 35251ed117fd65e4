package handlers

import (
	"net/http"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"

	"github.com/sessionsvc/sessionsvc/web"
)

// addRoutes registers every URL the service answers.
func addRoutes(r *gin.Engine, s *server) {
	r.GET("/healthz", handleHealthz)
	r.GET("/readyz", s.handleReadyz)
	r.StaticFS("/static", http.FS(web.Static))

	r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusFound, "/get_email") })
	r.GET("/set_email", s.handleSetEmailForm)

	withSession := r.Group("/", sessions.Sessions(s.CookieName, s.Store), noStore)
	withSession.POST("/set_email", limitBody, s.handleSetEmail)
	withSession.GET("/get_email", s.handleGetEmail)
	withSession.GET("/delete_email", s.refuseCrossSiteGET, s.handleDeleteEmail)
	withSession.POST("/delete_email", s.handleDeleteEmail)
	withSession.POST("/delete_session", s.handleDeleteSession)
	if _, ok := s.endsOthers(); ok { // not with cookie sessions: nothing on the server to end
		withSession.POST("/end_other_sessions", s.handleEndOtherSessions)
	}

	r.NoRoute(func(c *gin.Context) {
		s.errorPage(c, http.StatusNotFound, "Page not found", "There is nothing at this address.")
	})
	r.NoMethod(func(c *gin.Context) {
		s.errorPage(c, http.StatusMethodNotAllowed, "Method not allowed", "This page does not accept that kind of request.")
	})
}
