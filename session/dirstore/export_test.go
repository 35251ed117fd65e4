package dirstore

import "time"

// Sweep removes the expired files now.
func (d *Backend) Sweep(now time.Time) { d.sweep(now) }
