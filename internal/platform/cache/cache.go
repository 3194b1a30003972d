// Package cache connects to Redis (a server, Sentinel or Cluster through
// go-redis's UniversalClient) or runs an in-process Redis for the embedded
// default, and adapts Redis to silenceper's cache interface. No business rules.
package cache

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Options selects the Redis deployment.
type Options struct {
	Addrs      []string
	Password   string
	DB         int
	MasterName string
}

// Open connects and pings so a wrong address fails at start with one clear line.
func Open(ctx context.Context, o Options) (redis.UniversalClient, error) {
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:        o.Addrs,
		Password:     o.Password,
		DB:           o.DB,
		MasterName:   o.MasterName,
		DialTimeout:  3 * time.Second,
		ReadTimeout:  2 * time.Second,
		WriteTimeout: 2 * time.Second,
	})
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("cannot connect to Redis at %v: %v", o.Addrs, err)
	}
	return rdb, nil
}

// Embedded is an in-process Redis for the single-binary default. It keeps
// nothing across restarts; sessions and the database are the truth.
type Embedded struct {
	server *miniredis.Miniredis
	stop   chan struct{}
	done   chan struct{}
}

// StartEmbedded starts the in-process Redis on a loopback port.
func StartEmbedded() (*Embedded, error) {
	s := miniredis.NewMiniRedis()
	if err := s.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("start embedded Redis: %w", err)
	}
	e := &Embedded{server: s, stop: make(chan struct{}), done: make(chan struct{})}
	go e.tick()
	return e, nil
}

// tick advances miniredis's clock with the wall clock: miniredis only expires
// keys when told time has passed, and token caches and rate limits rely on TTLs.
func (e *Embedded) tick() {
	defer close(e.done)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	last := time.Now()
	e.server.SetTime(last)
	for {
		select {
		case <-e.stop:
			return
		case now := <-t.C:
			e.server.SetTime(now)
			e.server.FastForward(now.Sub(last))
			last = now
		}
	}
}

// Addr is the embedded server's address.
func (e *Embedded) Addr() string { return e.server.Addr() }

// Close stops the clock and the server.
func (e *Embedded) Close() {
	close(e.stop)
	<-e.done
	e.server.Close()
}
