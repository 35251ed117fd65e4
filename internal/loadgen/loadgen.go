// Package loadgen drives the service's pages the way many browsers would,
// for tests and the fault-injection tool: each visitor stores an email,
// then reads it back and changes it, going round one or more service
// instances, and the load counts every answer and every session that lost
// an email it had been told was stored.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config describes a load.
type Config struct {
	// Targets are the service instances' base URLs (http://host:port).
	// Each visitor sends each request to the next one in turn.
	Targets []string
	// Visitors is how many browsers there are, each with its own session
	// and one request at a time.
	Visitors int
	// Pause is each visitor's wait between requests; 0 means none.
	Pause time.Duration
	// WriteEvery makes every n-th request of a visitor post a new email
	// (POST /set_email); 0 posts only the first.
	WriteEvery int
	// PlainEvery makes every n-th request one for a page that needs no
	// session (the form or /healthz, in turn); 0 sends none.
	PlainEvery int
	// Timeout bounds each request; one that takes longer counts as failed.
	// Zero means 10 s.
	Timeout time.Duration
	// Redispatch sends a request that the target refused before reading it
	// (connection refused, or closed without a response) to the next
	// target, as a load balancer with retries does.
	Redispatch bool
	// Record keeps every request in Result.Requests.
	Record bool
}

// Result counts what a load saw.
type Result struct {
	Sent        int // requests that got an answer or failed
	OK          int // 2xx and 3xx
	Unavailable int // 503
	Other5xx    int // 5xx other than 503
	Other       int // anything else (4xx but 409)
	Failed      int // no answer: connection error or timeout
	// Redispatched counts requests refused unread and sent to another
	// target (with Config.Redispatch); they are not in Sent.
	Redispatched int
	// Lost counts visitors who were shown something other than the email
	// they were last told was stored (or one they sent since, whose storing
	// was in doubt because it got no answer or a 5xx).
	Lost int
	// Retired counts visitors shown no session after a change of email
	// whose answer failed: the change may have been stored, renewing the
	// session under an ID the visitor never got, and the old ID is retired
	// at once. Such a visitor was never told the change was stored, and
	// starts again.
	Retired int
	// Conflict counts 409 answers: a change asked with a retired ID,
	// within its grace period, which saves nothing (see Retired).
	Conflict int
	// NoRetryAfter counts 503 answers without a Retry-After header.
	NoRetryAfter int
	// PlainNotOK counts answers other than 200 from pages without a session.
	PlainNotOK int
	// Max503 and MaxLatency are the slowest 503 and the slowest answer;
	// TotalLatency adds up the time of every request in Sent.
	Max503, MaxLatency, TotalLatency time.Duration
	// Losses tells, for each lost session, what was shown and when.
	Losses []string
	// LastFailure is when the last session request that did not succeed
	// ended (zero if none).
	LastFailure time.Time
	// Requests holds every request when Config.Record is set.
	Requests []Request
}

// Request is one request of a load.
type Request struct {
	ID      string // its X-Request-ID
	Method  string
	Path    string
	Target  string
	Status  int    // 0 when it got no answer
	Err     string // why it got no answer
	Start   time.Time
	Latency time.Duration
}

// Load is a load ready to run. Create it with New.
type Load struct {
	cfg      Config
	targets  atomic.Pointer[[]string]
	client   *http.Client
	visitors []*visitor
}

// visitor is one browser: its cookie and what it was told.
type visitor struct {
	n      int
	cookie string // the session cookie, "name=value"
	acked  string // the email the service last said it stored
	maybe  []string
	lost   bool
	seq    int
	res    Result
}

// New returns a load; Prepare, then Run it.
func New(cfg Config) *Load {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	tr := &http.Transport{
		MaxIdleConns:        cfg.Visitors * len(cfg.Targets),
		MaxIdleConnsPerHost: cfg.Visitors,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	l := &Load{cfg: cfg, client: &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	l.SetTargets(cfg.Targets...)
	for i := range cfg.Visitors {
		l.visitors = append(l.visitors, &visitor{n: i})
	}
	return l
}

// SetTargets sends the visitors' next requests to other instances, such as
// those of a new version. It may be called while the load runs.
func (l *Load) SetTargets(targets ...string) {
	l.targets.Store(&targets)
}

// Close closes the load's idle connections.
func (l *Load) Close() {
	l.client.CloseIdleConnections()
}

// Prepare has every visitor store a first email, all at once. It fails when
// one cannot by the time ctx ends.
func (l *Load) Prepare(ctx context.Context) error {
	return l.each(ctx, func(v *visitor) error {
		for {
			if l.write(ctx, v) {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("visitor %d could not store an email: %w", v.n, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// Run sends requests until ctx ends and returns what they got.
func (l *Load) Run(ctx context.Context) Result {
	l.each(ctx, func(v *visitor) error {
		for i := 1; ctx.Err() == nil; i++ {
			switch {
			case l.cfg.PlainEvery > 0 && i%l.cfg.PlainEvery == 0:
				l.plain(ctx, v, i/l.cfg.PlainEvery)
			case l.cfg.WriteEvery > 0 && i%l.cfg.WriteEvery == 0:
				l.write(ctx, v)
			default:
				l.read(ctx, v)
			}
			if l.cfg.Pause > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(l.cfg.Pause):
				}
			}
		}
		return nil
	})
	return l.result()
}

// Verify has every visitor read its email once more, trying again after a
// failure until ctx ends, and returns the counts of the whole load.
func (l *Load) Verify(ctx context.Context) Result {
	l.each(ctx, func(v *visitor) error {
		for !l.read(ctx, v) && ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
		return nil
	})
	return l.result()
}

// each runs fn for every visitor at once and returns the first error.
func (l *Load) each(ctx context.Context, fn func(v *visitor) error) error {
	errs := make([]error, len(l.visitors))
	var wg sync.WaitGroup
	for i, v := range l.visitors {
		wg.Go(func() { errs[i] = fn(v) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// result adds up the visitors' counts so far.
func (l *Load) result() Result {
	var r Result
	for _, v := range l.visitors {
		x := v.res
		r.Sent += x.Sent
		r.OK += x.OK
		r.Unavailable += x.Unavailable
		r.Other5xx += x.Other5xx
		r.Other += x.Other
		r.Failed += x.Failed
		r.Redispatched += x.Redispatched
		r.Retired += x.Retired
		r.Conflict += x.Conflict
		r.NoRetryAfter += x.NoRetryAfter
		r.PlainNotOK += x.PlainNotOK
		r.Max503 = max(r.Max503, x.Max503)
		r.MaxLatency = max(r.MaxLatency, x.MaxLatency)
		r.TotalLatency += x.TotalLatency
		if x.LastFailure.After(r.LastFailure) {
			r.LastFailure = x.LastFailure
		}
		r.Requests = append(r.Requests, x.Requests...)
		r.Losses = append(r.Losses, x.Losses...)
		if v.lost {
			r.Lost++
		}
	}
	slices.SortFunc(r.Requests, func(a, b Request) int { return a.Start.Compare(b.Start) })
	return r
}

// write posts a new email; it reports whether the service said it stored it.
func (l *Load) write(ctx context.Context, v *visitor) bool {
	email := fmt.Sprintf("v%d-%d@example.com", v.n, v.seq)
	res, _ := l.send(ctx, v, http.MethodPost, "/set_email", url.Values{"email_address": {email}})
	if res == nil {
		v.maybe = append(v.maybe, email)
		return false
	}
	if res.StatusCode != http.StatusSeeOther {
		if res.StatusCode >= 500 {
			v.maybe = append(v.maybe, email)
		}
		return false
	}
	v.acked, v.maybe = email, nil
	return true
}

// read shows the visitor's email; it reports whether the page came.
func (l *Load) read(ctx context.Context, v *visitor) bool {
	res, body := l.send(ctx, v, http.MethodGet, "/get_email", nil)
	if res == nil || res.StatusCode != http.StatusOK {
		return false
	}
	shown := ""
	if _, rest, ok := strings.Cut(body, "<h1>Welcome "); ok && !strings.HasPrefix(rest, "Please") {
		shown, _, _ = strings.Cut(rest, "!</h1>")
		shown = html.UnescapeString(shown)
	}
	switch {
	case v.acked == "" && len(v.maybe) == 0:
	case shown == v.acked:
	case slices.Contains(v.maybe, shown):
		// A write whose answer failed may have been stored, or may be
		// seen on a master that is being failed over and then vanish:
		// the visitor was never told it was stored.
	case shown == "" && len(v.maybe) > 0:
		v.res.Retired++
		v.acked, v.maybe = "", nil
	default:
		v.lost = true
		v.res.Losses = append(v.res.Losses, fmt.Sprintf("%s: visitor %d shown %q at %s, told %q was stored (in doubt: %q)",
			time.Now().Format("15:04:05.000"), v.n, shown, res.Request.Header.Get("X-Request-ID"), v.acked, v.maybe))
		// Carry on from what the service has now.
		v.acked, v.maybe = shown, nil
	}
	return true
}

// plain asks for a page that needs no session.
func (l *Load) plain(ctx context.Context, v *visitor, i int) {
	path := "/healthz"
	if i%2 == 0 {
		path = "/set_email"
	}
	if res, _ := l.send(ctx, v, http.MethodGet, path, nil); res != nil && res.StatusCode != http.StatusOK {
		v.res.PlainNotOK++
	}
}

// send sends one request with the visitor's cookie to the next target and
// counts its outcome. It returns nil when no answer came.
func (l *Load) send(ctx context.Context, v *visitor, method, path string, form url.Values) (*http.Response, string) {
	v.seq++
	rec := Request{ID: fmt.Sprintf("lg-%d-%d", v.n, v.seq), Method: method, Path: path}
	var res *http.Response
	var body []byte
	var err error
	targets := *l.targets.Load()
	for try := 0; try < len(targets); try++ {
		rec.Target = targets[(v.n+v.seq+try)%len(targets)]
		rec.Start = time.Now()
		res, body, err = l.do(ctx, v, rec, form)
		rec.Latency = time.Since(rec.Start)
		if err == nil || !l.cfg.Redispatch || !unread(err) || ctx.Err() != nil {
			break
		}
		v.res.Redispatched++
	}
	if ctx.Err() != nil && err != nil {
		return nil, "" // the load ended; not the service's doing
	}
	session := path == "/get_email" || path == "/set_email" && method == http.MethodPost
	v.res.Sent++
	v.res.MaxLatency = max(v.res.MaxLatency, rec.Latency)
	v.res.TotalLatency += rec.Latency
	switch {
	case err != nil:
		v.res.Failed++
		rec.Err = err.Error()
	case res.StatusCode < 400:
		v.res.OK++
	case res.StatusCode == http.StatusServiceUnavailable:
		v.res.Unavailable++
		v.res.Max503 = max(v.res.Max503, rec.Latency)
		if res.Header.Get("Retry-After") == "" {
			v.res.NoRetryAfter++
		}
	case res.StatusCode >= 500:
		v.res.Other5xx++
	case res.StatusCode == http.StatusConflict:
		v.res.Conflict++
	default:
		v.res.Other++
	}
	if res != nil {
		rec.Status = res.StatusCode
	}
	if session && (err != nil || res.StatusCode >= 500) {
		v.res.LastFailure = time.Now()
	}
	if l.cfg.Record {
		v.res.Requests = append(v.res.Requests, rec)
	}
	if err != nil {
		return nil, ""
	}
	for _, c := range res.Cookies() {
		if c.Name == "session" {
			v.cookie = ""
			if c.MaxAge >= 0 && c.Value != "" {
				v.cookie = c.Name + "=" + c.Value
			}
		}
	}
	return res, string(body)
}

func (l *Load) do(ctx context.Context, v *visitor, rec Request, form url.Values) (*http.Response, []byte, error) {
	// A request on its way is not dropped when the load ends, as a browser
	// would not drop it: a change of email whose answer never arrived
	// leaves the visitor with a retired ID.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.cfg.Timeout)
	defer cancel()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, rec.Method, rec.Target+rec.Path, body)
	if err != nil {
		return nil, nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if v.cookie != "" {
		req.Header.Set("Cookie", v.cookie)
	}
	req.Header.Set("X-Request-ID", rec.ID)
	res, err := l.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, nil, err
	}
	return res, data, nil
}

// unread reports whether err means the server never read the request: the
// connection was refused, or closed before any answer.
func unread(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}
