// Command peers serves the tutorial's session routes on the stacks that
// sessionsvc is measured against, rendering the same pages from web/:
//
//   - ceiling: Gin with no session store at all; GET /get_email greets a
//     fixed address when a session cookie is present, POST /set_email only
//     checks the form and redirects. Nothing can be faster with these pages.
//   - stock-tuned: Gin with gin-contrib/sessions' Redis store over a pool
//     tuned by hand (bounded, no PING on borrow, timeouts).
//   - stock-readme: the same store set up as the gin-contrib/sessions README
//     does (redis.NewStore(10, ...): PING on every borrow, at most 10 idle
//     connections, no timeouts).
//
// It listens on 127.0.0.1:$PORT, keeps sessions in the Redis at $REDIS_ADDR
// (host:port) and database $REDIS_DB, signs cookies with $SECRET_KEY, and
// logs nothing per request.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/mail"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-contrib/sessions"
	sredis "github.com/gin-contrib/sessions/redis"
	"github.com/gin-gonic/gin"
	"github.com/gomodule/redigo/redis"

	"github.com/sessionsvc/sessionsvc/web"
)

func main() {
	stack := flag.String("stack", "ceiling", "ceiling, stock-tuned or stock-readme")
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
		store.Options(sessions.Options{Path: "/", MaxAge: 31 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		g := r.Group("/", sessions.Sessions("session", store))
		g.GET("/get_email", app.stockGet)
		g.POST("/set_email", app.stockSet)
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
}

// emailPage has the fields the product's email pages read.
type emailPage struct {
	Email     string
	Error     web.Msg
	Panel     *struct{} // the debug panel: never shown
	EndOthers bool
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

func (a *app) stockGet(c *gin.Context) {
	email, _ := sessions.Default(c).Get("email").(string)
	a.render(c, http.StatusOK, "get_email", emailPage{Email: email})
}

func (a *app) stockSet(c *gin.Context) {
	email := a.formEmail(c)
	if email == "" {
		return
	}
	s := sessions.Default(c)
	s.Set("email", email)
	if err := s.Save(); err != nil {
		c.String(http.StatusServiceUnavailable, "save session: %v", err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/get_email")
}

func init() {
	log.SetFlags(0)
	log.SetPrefix(fmt.Sprintf("peers[%d]: ", os.Getpid()))
}
