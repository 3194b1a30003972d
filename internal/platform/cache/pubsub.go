package cache

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// PubSub is Redis publish/subscribe under the app's key prefix: fan-out of
// realtime hints across instances. Delivery is at most once (a subscriber
// that is not connected misses the message), so it only makes things fast;
// clients catch up from the database.
type PubSub struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewPubSub returns a PubSub over rdb; channel names get prefix.
func NewPubSub(rdb redis.UniversalClient, prefix string) *PubSub {
	return &PubSub{rdb: rdb, prefix: prefix}
}

// Publish sends msg to every current subscriber of channel.
func (p *PubSub) Publish(ctx context.Context, channel string, msg []byte) error {
	if err := p.rdb.Publish(ctx, p.prefix+channel, msg).Err(); err != nil {
		return fmt.Errorf("publish %s: %w", channel, err)
	}
	return nil
}

// Subscribe returns the messages of channel, from the moment the
// subscription is confirmed, until stop is called or ctx ends. The returned
// channel is closed then; stop must be called.
func (p *PubSub) Subscribe(ctx context.Context, channel string) (<-chan []byte, func(), error) {
	sub := p.rdb.Subscribe(ctx, p.prefix+channel)
	if _, err := sub.Receive(ctx); err != nil {
		sub.Close()
		return nil, nil, fmt.Errorf("subscribe %s: %w", channel, err)
	}
	out := make(chan []byte, 64)
	in := sub.Channel()
	go func() {
		defer close(out)
		for m := range in {
			select {
			case out <- []byte(m.Payload):
			default: // a slow reader loses hints rather than blocking the connection
			}
		}
	}()
	return out, func() { sub.Close() }, nil
}

// Subscriber is the subscribing half of PubSub.
type Subscriber interface {
	Subscribe(ctx context.Context, channel string) (<-chan []byte, func(), error)
}

// Follow keeps a subscription to channel until ctx ends, trying again every
// retry while it cannot be made (failed reports why). live(true) is called
// once it is made — hints published before may have been missed — each hint
// goes to hint, and live(false) is called when the subscription is lost. A
// cache kept fresh by hints trusts its entries only while live.
func Follow(ctx context.Context, s Subscriber, channel string, retry time.Duration,
	live func(bool), hint func([]byte), failed func(error)) {
	for ctx.Err() == nil {
		hints, stop, err := s.Subscribe(ctx, channel)
		if err != nil {
			failed(err)
			select {
			case <-ctx.Done():
			case <-time.After(retry):
			}
			continue
		}
		live(true)
		for h := range hints {
			hint(h)
		}
		live(false)
		stop()
	}
}
