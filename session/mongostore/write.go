package mongostore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionsvc/sessionsvc/session"
)

// renewedTo is the session core's field of a renewed session's old record
// (a forward), which holds nothing else but the end of its grace period.
const renewedTo = "__renewed_to"

// errConflict is a conditional record that did not apply.
var errConflict = errors.New("conflict")

// Write implements session.Backend. Records apply in order, each in one
// command; a batch of plain deletes (a revocation) is one deleteMany. When
// a record conflicts or fails, the new sessions written before it in this
// Write are deleted again, and Write returns its *session.Conflict (with
// what its key holds now) or error.
func (b *Backend) Write(ctx context.Context, recs ...session.Record) error {
	if err := b.ensure(ctx); err != nil {
		return err
	}
	now := time.Now()
	if len(recs) > 1 && plainDeletes(recs) {
		ids := make(bson.A, len(recs))
		for i, r := range recs {
			ids[i] = b.id(r.Key)
		}
		_, err := b.coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
		return err
	}
	var fresh []string // keys of new sessions written so far
	for _, r := range recs {
		err := b.applyAlone(ctx, r, now)
		if err == nil {
			if r.Loaded == nil && r.Data != nil {
				fresh = append(fresh, r.Key)
			}
			continue
		}
		b.undo(ctx, fresh)
		return err
	}
	return nil
}

func plainDeletes(recs []session.Record) bool {
	for _, r := range recs {
		if r.Data != nil || r.Loaded != nil {
			return false
		}
	}
	return true
}

// undo deletes the new sessions under keys, written earlier in a Write
// that failed, with a context of its own: the Write's may be what ended.
func (b *Backend) undo(ctx context.Context, keys []string) {
	if len(keys) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.cfg.Timeout)
	defer cancel()
	ids := make(bson.A, len(keys))
	for i, k := range keys {
		ids[i] = b.id(k)
	}
	if _, err := b.coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}); err != nil {
		// Nobody holds their IDs; they expire with their TTL.
		b.cfg.Logger.WarnContext(ctx, "mongostore: could not delete the new sessions of a failed write", "count", len(ids), "err", err)
	}
}

// conflict is the *session.Conflict of a record under key that did not
// apply, with what key holds now.
func (b *Backend) conflict(ctx context.Context, key string) error {
	current, found, err := b.Load(ctx, key, 0)
	if err != nil {
		return err
	}
	if !found {
		current = nil
	}
	return &session.Conflict{Key: key, Data: current}
}

// applyAlone is apply while no other write of r.Key in this process runs,
// and a conflict's *session.Conflict read before the next one does.
func (b *Backend) applyAlone(ctx context.Context, r session.Record, now time.Time) error {
	unlock, err := b.lock(ctx, r.Key)
	if err != nil {
		return err
	}
	defer unlock()
	if err := b.apply(ctx, r, now); err != errConflict {
		return err
	}
	return b.conflict(ctx, r.Key)
}

// apply writes r; errConflict when it is conditional and its document is
// not as loaded.
func (b *Backend) apply(ctx context.Context, r session.Record, now time.Time) error {
	id := b.id(r.Key)
	exp := expiry(now, r.TTL)
	if r.Loaded == nil {
		if r.Data == nil {
			_, err := b.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
			return err
		}
		data, n, err := dataDoc(r.Data)
		if err != nil {
			return err
		}
		doc := bson.D{{Key: "_id", Value: id}, {Key: "data", Value: data}, {Key: "n", Value: n}, {Key: "expiry", Value: exp}}
		if r.Owner != "" {
			doc = append(doc, bson.E{Key: "owner", Value: r.Owner})
		}
		_, err = b.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, doc, options.Replace().SetUpsert(true))
		return err
	}
	loaded, err := fields(r.Loaded)
	if err != nil {
		return err
	}
	if r.Data != nil {
		data, err := fields(r.Data)
		if err != nil {
			return err
		}
		if _, forward := data[renewedTo]; !forward {
			return b.update(ctx, id, loaded, data, r, exp, now)
		}
	}
	return b.replaceWhole(ctx, id, loaded, r, exp, now)
}

// update writes the values of a loaded session that changed, each on the
// condition that it still holds what was loaded, and the expiry, in a
// live session that is not a forward. The owner is written only when it
// changed, and then its value is among the changed ones.
func (b *Backend) update(ctx context.Context, id string, loaded, data map[string]json.RawMessage, r session.Record, exp, now time.Time) error {
	filter := live(id, now)
	filter = append(filter, bson.E{Key: "data." + renewedTo, Value: bson.D{{Key: "$exists", Value: false}}})
	var set, unset bson.D
	added := 0
	for _, k := range union(loaded, data) {
		lv, wasThere := loaded[k]
		dv, isThere := data[k]
		if wasThere && isThere && bytes.Equal(lv, dv) {
			continue
		}
		path := "data." + escape(k)
		cond, err := holds(lv, wasThere)
		if err != nil {
			return err
		}
		filter = append(filter, bson.E{Key: path, Value: cond})
		switch {
		case isThere:
			v, err := toBSON(dv)
			if err != nil {
				return err
			}
			set = append(set, bson.E{Key: path, Value: v})
			if !wasThere {
				added++
			}
		default:
			unset = append(unset, bson.E{Key: path, Value: ""})
			added--
		}
	}
	set = append(set, bson.E{Key: "expiry", Value: exp})
	if r.Owner != r.PrevOwner {
		if r.Owner != "" {
			set = append(set, bson.E{Key: "owner", Value: r.Owner})
		} else {
			unset = append(unset, bson.E{Key: "owner", Value: ""})
		}
	}
	upd := bson.D{{Key: "$set", Value: set}}
	if len(unset) > 0 {
		upd = append(upd, bson.E{Key: "$unset", Value: unset})
	}
	if added != 0 {
		upd = append(upd, bson.E{Key: "$inc", Value: bson.D{{Key: "n", Value: added}}})
	}
	return matched(b.coll.UpdateOne(ctx, filter, upd))
}

// replaceWhole deletes the session (r.Data nil) or makes it a forward, on
// the condition that it holds exactly what was loaded: the same number of
// values, each the same.
func (b *Backend) replaceWhole(ctx context.Context, id string, loaded map[string]json.RawMessage, r session.Record, exp, now time.Time) error {
	filter := live(id, now)
	filter = append(filter, bson.E{Key: "n", Value: len(loaded)})
	for _, k := range sortedKeys(loaded) {
		cond, err := holds(loaded[k], true)
		if err != nil {
			return err
		}
		filter = append(filter, bson.E{Key: "data." + escape(k), Value: cond})
	}
	if r.Data == nil {
		res, err := b.coll.DeleteOne(ctx, filter)
		if err != nil {
			return err
		}
		if res.DeletedCount == 0 {
			return errConflict
		}
		return nil
	}
	data, n, err := dataDoc(r.Data)
	if err != nil {
		return err
	}
	set := bson.D{{Key: "data", Value: data}, {Key: "n", Value: n}, {Key: "expiry", Value: exp}}
	upd := bson.D{{Key: "$set", Value: set}}
	if r.Owner != "" {
		upd[0].Value = append(set, bson.E{Key: "owner", Value: r.Owner})
	} else {
		upd = append(upd, bson.E{Key: "$unset", Value: bson.D{{Key: "owner", Value: ""}}})
	}
	return matched(b.coll.UpdateOne(ctx, filter, upd))
}

// matched is the error of a conditional update: errConflict when it
// matched no document.
func matched(res *mongo.UpdateResult, err error) error {
	if err == nil && res.MatchedCount == 0 {
		return errConflict
	}
	return err
}

// union returns the names of a and b, sorted.
func union(a, b map[string]json.RawMessage) []string {
	m := make(map[string]json.RawMessage, len(a)+len(b))
	for k := range a {
		m[k] = nil
	}
	for k := range b {
		m[k] = nil
	}
	return sortedKeys(m)
}

// holds is the condition that a field holds exactly the JSON value raw
// (present false: that it is absent). A query's equality also matches an
// array that holds the value as an element, and null a missing field, so
// both are ruled out: a field that was no array must not be one now. An
// array needs no more: this store never puts an array directly in an
// array (see nestedArray), so no stored array holds one as an element.
func holds(raw json.RawMessage, present bool) (bson.D, error) {
	if !present {
		return bson.D{{Key: "$exists", Value: false}}, nil
	}
	v, err := toBSON(raw)
	if err != nil {
		return nil, err
	}
	switch v.(type) {
	case nil:
		return bson.D{{Key: "$type", Value: "null"}, {Key: "$not", Value: bson.D{{Key: "$type", Value: "array"}}}}, nil
	case bson.A:
		return bson.D{{Key: "$eq", Value: v}}, nil
	default:
		return bson.D{{Key: "$eq", Value: v}, {Key: "$not", Value: bson.D{{Key: "$type", Value: "array"}}}}, nil
	}
}
