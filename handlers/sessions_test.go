package handlers

import (
	"net/url"
	"strings"
	"testing"
)

// TestNoPublicEndOtherSessions: the email is typed by the visitor and
// never verified, so it cannot be the key to other people's sessions: no
// page offers to end "my other sessions", and the route is gone. (Ops end
// an email's sessions with "sessionsvc sessions revoke-email".)
func TestNoPublicEndOtherSessions(t *testing.T) {
	for _, kind := range []string{"redis", "filesystem", "cookie"} {
		t.Run(kind, func(t *testing.T) {
			srv := newTestServer(t, kind)
			victim, attacker := newBrowser(t, srv.URL), newBrowser(t, srv.URL)
			victim.post("/set_email", url.Values{"email_address": {"bob@example.com"}})
			attacker.post("/set_email", url.Values{"email_address": {"BOB@EXAMPLE.COM"}})
			p := attacker.get("/get_email")
			wantPage(t, p, 200, "<h1>Welcome BOB@EXAMPLE.COM!</h1>")
			if strings.Contains(p.body, "end_other_sessions") || strings.Contains(p.body, "other sessions") {
				t.Error("the welcome page offers to end other sessions")
			}
			wantPage(t, attacker.post("/end_other_sessions", nil), 404)
			wantPage(t, victim.get("/get_email"), 200, "<h1>Welcome bob@example.com!</h1>")
		})
	}
}
