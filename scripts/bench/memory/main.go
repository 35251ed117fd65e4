// Command memory measures how many bytes of Redis memory (MEMORY USAGE) one
// session holding one email costs under different key and value encodings,
// and explains each figure from Redis' allocations rounded up to jemalloc's
// size classes. It writes its keys to database $REDIS_DB of the Redis at
// $REDIS_ADDR and deletes them again.
package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log"
	"os"
	"strconv"

	"github.com/gomodule/redigo/redis"
)

func main() {
	db, _ := strconv.Atoi(os.Getenv("REDIS_DB"))
	c, err := redis.Dial("tcp", os.Getenv("REDIS_ADDR"), redis.DialDatabase(db))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	var raw [32]byte
	rand.Read(raw[:])
	id := base64.RawURLEncoding.EncodeToString(raw[:]) // 43 characters, as the product makes them
	hashed := sha256.Sum256([]byte(id))
	ascii85 := make([]byte, 40)
	for i := range ascii85 { // 40 characters of a 92-letter cookie-safe alphabet hold 260 bits
		ascii85[i] = byte('#' + int(raw[i%32])%92)
	}
	type option struct{ name, key, value string }
	var options []option
	for _, email := range []string{"a@b.c", "alice@example.com"} {
		json := `{"email":"` + email + `"}`
		options = append(options,
			option{"session:<base64url id> (today)", "session:" + id, json},
			option{"session:<32 raw id bytes>", "session:" + string(raw[:]), json},
			option{"session:<raw SHA-256 of id>", "session:" + string(hashed[:]), json},
			option{"session:<40-char base92 id>", "session:" + string(ascii85), json},
			option{"s:<base64url id>", "s:" + id, json},
			option{"s<base64url id>", "s" + id, json},
			option{"session:<base64url id>, bare email value", "session:" + id, email},
		)
	}
	fmt.Printf("%-42s %4s %4s %6s %9s  %s\n", "key / value encoding", "key", "val", "bytes", "predicted", "= dictEntry + key sds + value object")
	for _, o := range options {
		if _, err := c.Do("SET", o.key, o.value, "PX", 60000); err != nil {
			log.Fatal(err)
		}
		got, err := redis.Int(c.Do("MEMORY", "USAGE", o.key))
		if err != nil {
			log.Fatal(err)
		}
		enc, _ := redis.String(c.Do("OBJECT", "ENCODING", o.key))
		c.Do("DEL", o.key)
		key, val := keySize(len(o.key)), valueSize(len(o.value))
		fmt.Printf("%-42s %4d %4d %6d %9d  = 24 + %d + %d (%s)\n", o.name, len(o.key), len(o.value), got, 24+key+val, key, val, enc)
	}
}

// jemalloc rounds small allocations up to these size classes (x86-64).
var classes = []int{8, 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256}

func class(n int) int {
	for _, c := range classes {
		if n <= c {
			return c
		}
	}
	return n
}

// keySize is a key's sds: a 1-byte header under 32 bytes, else 3 (sdshdr8),
// the bytes, and a terminating NUL.
func keySize(n int) int {
	if n < 32 {
		return class(1 + n + 1)
	}
	return class(3 + n + 1)
}

// valueSize is a string value: up to 44 bytes one "embstr" allocation of
// the 16-byte robj, an sdshdr8 and the bytes with their NUL; longer ones a
// robj (counted at its 16 bytes) and a separate sds.
func valueSize(n int) int {
	if n <= 44 {
		return class(16 + 3 + n + 1)
	}
	return 16 + class(3+n+1)
}
