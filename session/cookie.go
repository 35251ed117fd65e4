package session

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	gsessions "github.com/gorilla/sessions"
)

// Cookie sessions: with no Backend, the session's values travel in the
// cookie itself, signed (the client can read but not change them), as
// base64url(JSON) "." expiry (unix seconds). The core is the whole store:
// there is nothing on the server to load, write or find.

// loadCookie decodes a client-side session: base64url(JSON) "." expiry.
func (s *Store) loadCookie(gs *gsessions.Session, st *state, value string) bool {
	i := strings.LastIndexByte(value, '.')
	if i < 0 {
		return false
	}
	deadline, err := strconv.ParseInt(value[i+1:], 10, 64)
	now := time.Now()
	if err != nil || now.Unix() >= deadline {
		return false
	}
	data, err := strictBase64.DecodeString(value[:i])
	if err != nil {
		return false
	}
	m, err := decodeData(data, gs.Values)
	if err != nil || m.renewedTo != "" {
		return false
	}
	if s.cfg.AbsoluteLifetime > 0 && m.created == 0 {
		m.created = now.Unix()
	}
	// The deadline inside the cookie is the session's expiry, enforced here;
	// a refresh issues the cookie again with a later one, at most once per
	// 1/100 of the lifetime, never past the absolute end.
	if s.cfg.Refresh && s.deadline(m.created, now).Unix()-deadline > int64(s.cfg.Lifetime/time.Second)/100 {
		st.cookieDue = true
	}
	gs.IsNew = false
	st.loaded, st.created = data, m.created
	return true
}

// saveCookie sends the session's data, which expires at deadline, as its
// cookie.
func (s *Store) saveCookie(r *http.Request, w http.ResponseWriter, gs *gsessions.Session, st *state, data []byte, deadline time.Time) error {
	value := base64.RawURLEncoding.EncodeToString(data) + "." + strconv.FormatInt(deadline.Unix(), 10)
	if err := s.setCookie(r, w, gs.Name(), value, gs.Options); err != nil {
		return err
	}
	if gs.IsNew {
		s.cfg.Notify(r.Context(), Created, "", "")
	}
	gs.IsNew, st.loaded, st.cookieDue = false, data, false
	return nil
}
