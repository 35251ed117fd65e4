package memcachedstore

// ServerOf returns the address of the server that holds key.
func ServerOf(b *Backend, key string) string {
	s, _ := b.locate(key)
	return s.addr
}
