package mongostore

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionsvc/sessionsvc/session"
)

// listBatch is how many documents one step of List reads.
const listBatch = 500

// List implements session.Lister: the live documents whose key starts with
// prefix, 500 at a time in the order of their _id, each step a find of its
// own that starts after the last _id of the one before.
func (b *Backend) List(ctx context.Context, prefix string, fn func([]session.Stored) error) error {
	if err := b.ensure(ctx); err != nil {
		return err
	}
	full := b.id(prefix)
	bounds := bson.D{{Key: "$gte", Value: full}}
	if end := prefixEnd(full); end != "" {
		bounds = append(bounds, bson.E{Key: "$lt", Value: end})
	}
	for {
		now := time.Now()
		filter := bson.D{{Key: "_id", Value: bounds}, {Key: "expiry", Value: bson.D{{Key: "$gt", Value: now}}}}
		batch, last, n, err := b.find(ctx, filter, now, listBatch)
		if err != nil || n == 0 {
			return err
		}
		var keep []session.Stored
		for _, s := range batch {
			if strings.HasPrefix(s.Key, prefix) {
				keep = append(keep, s)
			}
		}
		if len(keep) > 0 {
			if err := fn(keep); err != nil {
				return err
			}
		}
		if n < listBatch {
			return nil
		}
		bounds[0] = bson.E{Key: "$gt", Value: last}
	}
}

// prefixEnd returns a string above every string that starts with p, and
// below most others: p with its last ASCII byte raised by one and what
// follows it cut; "" when there is none (no bound).
func prefixEnd(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] < 0x7f {
			return p[:i] + string(p[i]+1)
		}
	}
	return ""
}

// Get implements session.Getter, leaving out missing and expired
// sessions.
func (b *Backend) Get(ctx context.Context, keys ...string) ([]session.Stored, error) {
	if err := b.ensure(ctx); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, nil
	}
	ids := make(bson.A, len(keys))
	for i, k := range keys {
		ids[i] = b.id(k)
	}
	now := time.Now()
	filter := bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}, {Key: "expiry", Value: bson.D{{Key: "$gt", Value: now}}}}
	recs, _, _, err := b.find(ctx, filter, now, 0)
	return recs, err
}

// find reads the documents filter matches as records, in the order of
// their _id, limit at most (0: all), and returns the last _id and how many
// documents it read. A record whose data has no JSON form (edited by hand)
// comes with nil Data.
func (b *Backend) find(ctx context.Context, filter bson.D, now time.Time, limit int64) ([]session.Stored, string, int, error) {
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetProjection(bson.D{{Key: "data", Value: 1}, {Key: "expiry", Value: 1}})
	if limit > 0 {
		opts.SetLimit(limit)
	}
	cur, err := b.coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, "", 0, err
	}
	defer cur.Close(ctx)
	var recs []session.Stored
	var last string
	n := 0
	for cur.Next(ctx) {
		n++
		id, ok := cur.Current.Lookup("_id").StringValueOK()
		if !ok {
			continue
		}
		last = id
		key, ok := strings.CutPrefix(id, b.cfg.Prefix)
		if !ok {
			continue
		}
		data, _ := dataJSON(cur.Current)
		recs = append(recs, session.Stored{Key: key, Data: data, TTL: ttlOf(cur.Current, now)})
	}
	return recs, last, n, cur.Err()
}

// ttlOf is the time a document has left at now.
func ttlOf(doc bson.Raw, now time.Time) time.Duration {
	dt, ok := doc.Lookup("expiry").DateTimeOK()
	if !ok {
		return -1
	}
	return time.UnixMilli(dt).Sub(now)
}

// Owned implements session.OwnerIndex: the keys of owner's live sessions,
// found through the owner index.
func (b *Backend) Owned(ctx context.Context, owner string) ([]string, error) {
	if err := b.ensure(ctx); err != nil {
		return nil, err
	}
	filter := bson.D{{Key: "owner", Value: owner}, {Key: "expiry", Value: bson.D{{Key: "$gt", Value: time.Now()}}}}
	cur, err := b.coll.Find(ctx, filter, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	defer cur.Close(ctx)
	var keys []string
	for cur.Next(ctx) {
		id, _ := cur.Current.Lookup("_id").StringValueOK()
		if key, ok := strings.CutPrefix(id, b.cfg.Prefix); ok {
			keys = append(keys, key)
		}
	}
	return keys, cur.Err()
}

// TouchOwned implements session.OwnerIndex. The owner lives in the
// session's own document, so it shares the document's expiry and a
// refresh moves both. Only a session stored before OwnerKey was set lacks
// it: that gets it now, where it is still missing.
func (b *Backend) TouchOwned(ctx context.Context, owner, key string, _ time.Duration) error {
	if owner == "" {
		return nil
	}
	unlock, err := b.lock(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()
	filter := live(b.id(key), time.Now())
	filter = append(filter, bson.E{Key: "owner", Value: bson.D{{Key: "$exists", Value: false}}})
	_, err = b.coll.UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: bson.D{{Key: "owner", Value: owner}}}})
	return err
}

// Location implements session.Inspector: database.collection/_id.
func (b *Backend) Location(key string) string {
	return b.cfg.Database + "." + b.cfg.Collection + "/" + b.id(key)
}

// TTL implements session.Inspector.
func (b *Backend) TTL(ctx context.Context, key string) (time.Duration, bool, error) {
	if err := b.ensure(ctx); err != nil {
		return 0, false, err
	}
	now := time.Now()
	raw, err := b.coll.FindOne(ctx, live(b.id(key), now), options.FindOne().SetProjection(bson.D{{Key: "expiry", Value: 1}})).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return ttlOf(raw, now), true, nil
}

// startSweeper starts deleting expired documents every SweepEvery, until
// Close, and says so in the log, once.
func (b *Backend) startSweeper() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expiry.Store("swept by the service every " + b.cfg.SweepEvery.String())
	if b.closed || b.swept {
		return
	}
	b.swept = true
	b.cfg.Logger.Info("mongostore: the server refuses TTL indexes; expired sessions are deleted by the service",
		"every", b.cfg.SweepEvery.String(), "collection", b.cfg.Database+"."+b.cfg.Collection)
	b.wg.Go(func() {
		t := time.NewTicker(b.cfg.SweepEvery)
		defer t.Stop()
		for {
			select {
			case <-b.stop:
				return
			case <-t.C:
				b.sweep(time.Now())
			}
		}
	})
}

// sweep deletes the documents that expired by now, and returns how many.
// Replicas sweeping at once delete each document once.
func (b *Backend) sweep(now time.Time) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := b.coll.DeleteMany(ctx, bson.D{{Key: "expiry", Value: bson.D{{Key: "$lte", Value: now}}}})
	if err != nil {
		return 0, err
	}
	return res.DeletedCount, nil
}
