// Command peers serves the tutorial's session routes on the stacks that
// sessionsvc is measured against, rendering the same pages from web/:
//
//   - ceiling: Gin with no session store at all; GET /get_email greets a
//     fixed address when a session cookie is present, POST /set_email and
//     POST /preferences only check the form and redirect. Nothing can be
//     faster with these pages.
//   - ceiling-logged: the same, with what sessionsvc adds to every page
//     besides sessions: its headers (Content-Security-Policy,
//     X-Content-Type-Options, Referrer-Policy, X-Frame-Options, X-Request-Id;
//     Cache-Control: no-store on the session pages; Vary on rendered pages)
//     and its JSON request line, written to standard output as sessionsvc
//     writes its own: through slog.JSONHandler and the service's log buffer
//     (internal/logbuf). The fair ceiling for pages that need no session.
//   - stock-tuned: Gin with gin-contrib/sessions' Redis store over a pool
//     tuned by hand (bounded, no PING on borrow, timeouts).
//   - stock-readme: the same store set up as the gin-contrib/sessions README
//     does (redis.NewStore(10, ...): PING on every borrow, at most 10 idle
//     connections, no timeouts).
//   - stock-postgres: Gin with gin-contrib/sessions' postgres store, over a
//     database/sql pool of lib/pq connections to $DATABASE_URL, as its
//     tests set it up.
//   - stock-memcached: Gin with gin-contrib/sessions' memcached store on the
//     Memcached at $MEMCACHED_ADDR, as its README sets it up, but with a
//     lifetime of 30 days: with 31, Memcached reads the expiry as a date in
//     1970 and every session is gone by the next page.
//   - stock-mongodb: Gin with gin-contrib/sessions' mongo/mongodriver store
//     on the collection sessions of the database bench_stock at $MONGODB_URL,
//     without its TTL index (ensureTTL=false: with true it stops at start on
//     a server that refuses TTL indexes, as FerretDB does).
//
// It listens on 127.0.0.1:$PORT, keeps sessions in the Redis at $REDIS_ADDR
// (host:port) and database $REDIS_DB, signs cookies with $SECRET_KEY, and
// logs nothing per request but in ceiling-logged.
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"flag"
	"fmt"
	"hash"
	"log"
	"log/slog"
	"net/http"
	"net/mail"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-contrib/sessions"
	smemcached "github.com/gin-contrib/sessions/memcached"
	"github.com/gin-contrib/sessions/mongo/mongodriver"
	spostgres "github.com/gin-contrib/sessions/postgres"
	sredis "github.com/gin-contrib/sessions/redis"
	"github.com/gin-gonic/gin"
	"github.com/gomodule/redigo/redis"
	_ "github.com/lib/pq" // "postgres", for stock-postgres
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/sessionsvc/sessionsvc/internal/logbuf"
	"github.com/sessionsvc/sessionsvc/web"
)

func main() {
	stack := flag.String("stack", "ceiling", "ceiling, ceiling-logged, stock-tuned, stock-readme, stock-postgres, stock-memcached or stock-mongodb")
	flag.Parse()
	port, redisAddr := os.Getenv("PORT"), os.Getenv("REDIS_ADDR")
	db, _ := strconv.Atoi(os.Getenv("REDIS_DB"))
	secret := []byte(os.Getenv("SECRET_KEY"))
	if len(secret) < 32 {
		log.Fatal("SECRET_KEY must hold at least 32 bytes")
	}

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery())
	app, err := newApp()
	if err != nil {
		log.Fatal(err)
	}
	switch *stack {
	case "ceiling":
		r.GET("/get_email", app.ceilingGet)
		r.POST("/set_email", app.ceilingSet)
		r.POST("/preferences", app.ceilingPreferences)
	case "ceiling-logged":
		app.vary = true
		logger, _ := logbuf.NewLogger(os.Stdout, true) // never closed: the process ends by a signal
		r.Use(newRequestLog(logger.Handler(), secret).handle, securityHeaders)
		g := r.Group("/", noStore)
		g.GET("/get_email", app.ceilingGet)
		g.POST("/set_email", app.ceilingSet)
		g.POST("/preferences", app.ceilingPreferences)
	case "stock-postgres":
		db, err := sql.Open("postgres", os.Getenv("DATABASE_URL"))
		if err != nil {
			log.Fatal(err)
		}
		store, err := spostgres.NewStore(db, secret)
		if err != nil {
			log.Fatal(err)
		}
		app.stockRoutes(r, store, month)
	case "stock-memcached":
		store := smemcached.NewStore(memcache.New(os.Getenv("MEMCACHED_ADDR")), "", secret)
		app.stockRoutes(r, store, 30*24*3600)
	case "stock-mongodb":
		client, err := mongo.Connect(context.Background(), options.Client().ApplyURI(os.Getenv("MONGODB_URL")))
		if err != nil {
			log.Fatal(err)
		}
		store := mongodriver.NewStore(client.Database("bench_stock").Collection("sessions"), month, false, secret)
		app.stockRoutes(r, store, month)
	case "stock-tuned", "stock-readme":
		var store sredis.Store
		if *stack == "stock-readme" {
			store, err = sredis.NewStore(10, "tcp", redisAddr, "", "", secret)
		} else {
			pool := &redis.Pool{
				Dial: func() (redis.Conn, error) {
					return redis.Dial("tcp", redisAddr, redis.DialDatabase(db),
						redis.DialConnectTimeout(500*time.Millisecond),
						redis.DialReadTimeout(500*time.Millisecond),
						redis.DialWriteTimeout(500*time.Millisecond))
				},
				MaxIdle: 64, MaxActive: 64, Wait: true, IdleTimeout: 5 * time.Minute,
			}
			store, err = sredis.NewStoreWithPool(pool, secret)
		}
		if err != nil {
			log.Fatal(err)
		}
		app.stockRoutes(r, store, month)
	default:
		log.Fatalf("unknown stack %q", *stack)
	}
	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	srv := &http.Server{Addr: "127.0.0.1:" + port, Handler: r, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// app renders the product's own pages.
type app struct {
	pages *web.Pages
	bufs  sync.Pool
	vary  bool // pages carry sessionsvc's Vary header
}

// emailPage has the fields the product's email pages read.
type emailPage struct {
	Email string
	Error web.Msg
	Panel *struct{} // the debug panel: never shown
}

func newApp() (*app, error) {
	pages, err := web.LoadPages()
	if err != nil {
		return nil, err
	}
	a := &app{pages: pages}
	a.bufs.New = func() any { return new(bytes.Buffer) }
	return a, nil
}

func (a *app) render(c *gin.Context, status int, page string, data any) {
	buf := a.bufs.Get().(*bytes.Buffer)
	defer func() { buf.Reset(); a.bufs.Put(buf) }()
	v := web.View{T: web.Languages()[0], Langs: web.Languages(), Back: c.Request.URL.Path, Page: data}
	if err := a.pages.Execute(buf, page, v); err != nil {
		c.String(http.StatusInternalServerError, "render: %v", err)
		return
	}
	if a.vary {
		c.Writer.Header()["Vary"] = varyValue
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// formEmail returns the posted address, or "" after answering 400.
func (a *app) formEmail(c *gin.Context) string {
	email := strings.TrimSpace(c.PostForm("email_address"))
	if addr, err := mail.ParseAddress(email); err != nil || addr.Name != "" || len(email) > 254 {
		a.render(c, http.StatusBadRequest, "set_email", emailPage{Email: email, Error: web.EmailInvalid})
		return ""
	}
	return email
}

func (a *app) ceilingGet(c *gin.Context) {
	var p emailPage
	if _, err := c.Cookie("session"); err == nil {
		p.Email = "user@example.com"
	}
	a.render(c, http.StatusOK, "get_email", p)
}

func (a *app) ceilingSet(c *gin.Context) {
	if a.formEmail(c) != "" {
		c.Redirect(http.StatusSeeOther, "/get_email")
	}
}

// formTheme returns the posted theme, or "" after answering 400.
func formTheme(c *gin.Context) string {
	theme := c.PostForm("theme")
	if theme != "light" && theme != "dark" {
		c.String(http.StatusBadRequest, "theme: want light or dark")
		return ""
	}
	return theme
}

func (a *app) ceilingPreferences(c *gin.Context) {
	if formTheme(c) != "" {
		c.Redirect(http.StatusSeeOther, "/get_email")
	}
}

// month is the lifetime of the stock stores' sessions, in seconds: 31
// days, sessionsvc's default.
const month = 31 * 24 * 3600

// stockRoutes serves the pages with gin-contrib's middleware over store,
// whose sessions last maxAge seconds.
func (a *app) stockRoutes(r *gin.Engine, store sessions.Store, maxAge int) {
	store.Options(sessions.Options{Path: "/", MaxAge: maxAge, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	g := r.Group("/", sessions.Sessions("session", store))
	g.GET("/get_email", a.stockGet)
	g.POST("/set_email", a.stockSet)
	g.POST("/preferences", a.stockPreferences)
}

func (a *app) stockGet(c *gin.Context) {
	email, _ := sessions.Default(c).Get("email").(string)
	a.render(c, http.StatusOK, "get_email", emailPage{Email: email})
}

func (a *app) stockSet(c *gin.Context) {
	if email := a.formEmail(c); email != "" {
		stockSave(c, "email", email)
	}
}

func (a *app) stockPreferences(c *gin.Context) {
	if theme := formTheme(c); theme != "" {
		stockSave(c, "theme", theme)
	}
}

// stockSave sets key to value in the session, saves it and redirects.
func stockSave(c *gin.Context, key, value string) {
	s := sessions.Default(c)
	s.Set(key, value)
	if err := s.Save(); err != nil {
		c.String(http.StatusServiceUnavailable, "save session: %v", err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/get_email")
}

// Header values as sessionsvc sends them (handlers/server.go), assigned
// rather than set, as it does.
var (
	cspValue        = []string{"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"}
	nosniffValue    = []string{"nosniff"}
	sameOriginValue = []string{"same-origin"}
	denyValue       = []string{"DENY"}
	noStoreValue    = []string{"no-store"}
	varyValue       = []string{"Cookie, Accept-Language"}
)

func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h["Content-Security-Policy"] = cspValue
	h["X-Content-Type-Options"] = nosniffValue
	h["Referrer-Policy"] = sameOriginValue
	h["X-Frame-Options"] = denyValue
	c.Next()
}

func noStore(c *gin.Context) {
	c.Writer.Header()["Cache-Control"] = noStoreValue
	c.Next()
}

// requestLog writes sessionsvc's request line: the same attributes, its
// session attribute a keyed hash of the session cookie, when there is one.
type requestLog struct {
	h    slog.Handler
	macs sync.Pool // of hash.Hash, HMAC-SHA256 under the secret
}

func newRequestLog(h slog.Handler, secret []byte) *requestLog {
	l := &requestLog{h: h}
	l.macs.New = func() any { return hmac.New(sha256.New, secret) }
	return l
}

func (l *requestLog) handle(c *gin.Context) {
	start := time.Now()
	id := c.GetHeader("X-Request-ID")
	if !validRequestID(id) {
		var b [8]byte
		rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Writer.Header()["X-Request-Id"] = []string{id}

	c.Next()

	route := c.FullPath()
	if route == "" {
		route = "(none)"
	}
	status := c.Writer.Status()
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	r := slog.NewRecord(time.Now(), level, "request", 0)
	r.AddAttrs(
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Int("bytes", max(c.Writer.Size(), 0)),
		slog.Duration("duration", time.Since(start)),
	)
	if cookie, err := c.Cookie("session"); err == nil {
		m := l.macs.Get().(hash.Hash)
		m.Reset()
		m.Write([]byte(cookie))
		var sum [sha256.Size]byte
		r.AddAttrs(slog.String("session", hex.EncodeToString(m.Sum(sum[:0])[:6])))
		l.macs.Put(m)
	}
	r.AddAttrs(slog.String("request_id", id))
	l.h.Handle(c.Request.Context(), r)
}

// validRequestID is sessionsvc's check of a client's X-Request-ID.
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func init() {
	log.SetFlags(0)
	log.SetPrefix(fmt.Sprintf("peers[%d]: ", os.Getpid()))
}
