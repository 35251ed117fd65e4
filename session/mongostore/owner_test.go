package mongostore_test

import (
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sessionsvc/sessionsvc/internal/mongotest"
	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/mongostore"
	"github.com/sessionsvc/sessionsvc/session/sessiontest"
)

// ownerOf returns the owner field of the document of the client's session
// ("" when absent) and its data.email.
func ownerOf(t *testing.T, b *mongostore.Backend, store *session.Store, c *sessiontest.Client) (owner, email string) {
	t.Helper()
	raw, err := b.Collection().FindOne(t.Context(), bson.D{{Key: "_id", Value: "session:" + store.Key(c.Cookie)}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	owner, _ = raw.Lookup("owner").StringValueOK()
	email, _ = raw.Lookup("data", "email").StringValueOK()
	return owner, email
}

// One owner's sessions are found through the owner index and revoked
// together; the owner follows the session's email through changes, also
// when another value changes at the same moment.
func TestOwnerIndex(t *testing.T) {
	srv := mongotest.Start(t)
	b := open(t, srv, nil)
	store := sessiontest.NewStore(t, b, func(c *session.Config) { c.OwnerKey = "email" })
	app := sessiontest.NewApp(t, store)
	a1, a2, other := &sessiontest.Client{T: t, Base: app.URL}, &sessiontest.Client{T: t, Base: app.URL}, &sessiontest.Client{T: t, Base: app.URL}
	a1.Do("POST", "/set?v=a@example.com")
	a2.Do("POST", "/other?v=x")
	a2.Do("POST", "/set?v=a@EXAMPLE.com")
	other.Do("POST", "/set?v=b@example.com")
	ctx := t.Context()

	ix := indexes(t, b)["owner"]
	if key, _ := ix.Lookup("key").DocumentOK(); key.String() != `{"owner": {"$numberInt":"1"}}` {
		t.Errorf("owner index: %v", ix)
	}
	mine, err := store.SessionsOf(ctx, "a@example.com")
	if err != nil || len(mine) != 2 {
		t.Fatalf("SessionsOf = %+v, %v; want both sessions", mine, err)
	}
	if err := store.Revoke(ctx, mine...); err != nil {
		t.Fatal(err)
	}
	a1.Want("GET", "/get", 200, "")
	a2.Want("GET", "/other", 200, "")
	other.Want("GET", "/get", 200, "b@example.com")

	// The owner moves with the email, and leaves with it.
	other.Do("POST", "/other?v=kept")
	other.Do("POST", "/set?v=c@example.com")
	if owner, _ := ownerOf(t, b, store, other); owner != "c@example.com" {
		t.Errorf("owner = %q after the email changed to c@example.com", owner)
	}
	if found, _ := store.SessionsOf(ctx, "b@example.com"); len(found) != 0 {
		t.Errorf("SessionsOf(old email) = %+v", found)
	}
	other.Want("POST", "/delete", 200, "deleted")
	if owner, _ := ownerOf(t, b, store, other); owner != "" {
		t.Errorf("owner = %q after the email was removed", owner)
	}

	// Two requests at once, one changing the email, one another value.
	c := &sessiontest.Client{T: t, Base: app.URL}
	c.Do("POST", "/set?v=start@example.com")
	for i := range 50 {
		email := fmt.Sprintf("e%d@example.com", i)
		sessiontest.Together(c, "POST", "/set?v="+email, "POST", fmt.Sprintf("/other?v=o%d", i))
		if owner, got := ownerOf(t, b, store, c); owner != email || got != email {
			t.Fatalf("pair %d: owner %q, email %q; want both %q", i, owner, got, email)
		}
	}
}

// A session stored before the owner was kept (OwnerKey set later) gets its
// owner at its next refresh, and is found then.
func TestOwnerAddedAtRefresh(t *testing.T) {
	srv := mongotest.Start(t)
	b := open(t, srv, nil)
	before := sessiontest.NewStore(t, b, nil)
	c := &sessiontest.Client{T: t, Base: sessiontest.NewApp(t, before).URL}
	c.Do("POST", "/set?v=a@example.com")
	if owner, _ := ownerOf(t, b, before, c); owner != "" {
		t.Fatalf("owner %q kept without an OwnerKey", owner)
	}
	after := sessiontest.NewStore(t, b, func(c *session.Config) { c.OwnerKey = "email" })
	c.Base = sessiontest.NewApp(t, after).URL
	c.Want("GET", "/get", 200, "a@example.com") // a new store's first read refreshes
	if owner, _ := ownerOf(t, b, after, c); owner != "a@example.com" {
		t.Errorf("owner = %q after a refresh, want a@example.com", owner)
	}
	if found, err := after.SessionsOf(t.Context(), "a@example.com"); len(found) != 1 || err != nil {
		t.Errorf("SessionsOf = %+v, %v", found, err)
	}
}
