package handlers

import (
	"fmt"
	"strings"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"

	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/web"
)

// debugPanel is what the welcome page shows developers in debug mode.
type debugPanel struct {
	Store    string // the store's name
	Key      string // where the session is kept, the ID shortened; "" in the cookie
	Snapshot session.Snapshot
}

// shortID is how many characters of a session ID the panel shows.
const shortID = 8

// debugPanel describes sess for the panel, or returns nil (and logs why)
// when the store cannot.
func (s *server) debugPanel(c *gin.Context, sess sessions.Session) *debugPanel {
	snap, err := s.Store.Inspect(c.Request.Context(), sess)
	if err != nil {
		s.Logger.WarnContext(c.Request.Context(), "inspect session for the debug panel", "error", err)
		return nil
	}
	p := &debugPanel{Store: s.StoreName, Key: snap.Key, Snapshot: snap}
	if id := snap.ID; len(id) > shortID {
		p.Key = strings.Replace(snap.Key, id, id[:shortID]+"…", 1)
	}
	return p
}

// TTL is the time left, in t's words when it has some.
func (p *debugPanel) TTL(t *web.Text) string {
	switch {
	case !p.Snapshot.TTLKnown:
		return "—"
	case p.Snapshot.TTL < 0:
		return t.DebugNever
	}
	return formatDuration(p.Snapshot.TTL)
}

// formatDuration writes d to the second, with days when it has any:
// "30d 23h 59m 58s", "4m5s".
func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if days := d / (24 * time.Hour); days > 0 {
		d -= days * 24 * time.Hour
		return fmt.Sprintf("%dd %dh %dm %ds", days, d/time.Hour, d%time.Hour/time.Minute, d%time.Minute/time.Second)
	}
	return d.String()
}
