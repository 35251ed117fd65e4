package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/sessionsvc/sessionsvc/web"
)

// addRoutes registers every URL the service answers. Every page reads the
// visitor's language and theme from the session when it can (see
// preferences); only the pages below withSession need the session itself
// and answer 503 while the store is down.
func addRoutes(r *gin.Engine, s *server) {
	r.GET("/healthz", handleHealthz)
	r.GET("/readyz", s.handleReadyz)
	r.GET("/static/*filepath", s.handleStatic)
	r.HEAD("/static/*filepath", s.handleStatic)

	r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusFound, "/get_email") })
	r.GET("/set_email", s.handleSetEmailForm)

	// Pages that show or change the session.
	withSession := r.Group("/", noStore)
	withSession.POST("/set_email", limitBody, s.handleSetEmail)
	withSession.GET("/get_email", s.handleGetEmail)
	withSession.GET("/delete_email", s.handleDeleteEmailGET)
	withSession.POST("/delete_email", s.handleDeleteEmail)
	withSession.POST("/delete_session", s.handleDeleteSession)
	withSession.POST("/preferences", limitBody, s.handlePreferences)

	r.NoRoute(func(c *gin.Context) {
		s.errorPage(c, http.StatusNotFound, web.NotFoundTitle, web.NotFound)
	})
	r.NoMethod(func(c *gin.Context) {
		s.errorPage(c, http.StatusMethodNotAllowed, web.MethodNotAllowedTitle, web.MethodNotAllowed)
	})
}
