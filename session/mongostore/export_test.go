package mongostore

import (
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

// TTLRefused is ttlRefused.
var TTLRefused = ttlRefused

// Sweep deletes the documents expired by now, as the sweeper does.
func (b *Backend) Sweep(now time.Time) (int64, error) { return b.sweep(now) }

// Collection is the backend's collection.
func (b *Backend) Collection() *mongo.Collection { return b.coll }
