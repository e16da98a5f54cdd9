package link

import (
	"reflect"
	"sync"
	"time"
)

// parkShardSize bounds the links one parking goroutine watches: every
// wake-up of the goroutine rebuilds its select over all of them.
const parkShardSize = 128

// parking watches the links that have no writer goroutine: per shard of up
// to parkShardSize links, one goroutine waits on their wake-up channels
// (session events, file data, a newer link of the device) with
// reflect.Select, and restarts the writer of a link whose channel fired or
// whose heartbeat is due. A shard's goroutine ends with its last link.
type parking struct {
	heartbeatCheck time.Duration
	mu             sync.Mutex
	shards         []*parkShard
}

type parkShard struct {
	links   []*link       // guarded by parking.mu
	changed chan struct{} // signalled when links were added or removed
}

func newParking(heartbeatCheck time.Duration) *parking {
	return &parking{heartbeatCheck: heartbeatCheck}
}

// add parks l and returns its shard.
func (p *parking) add(l *link) *parkShard {
	p.mu.Lock()
	defer p.mu.Unlock()
	var sh *parkShard
	for _, s := range p.shards {
		if len(s.links) < parkShardSize {
			sh = s
			break
		}
	}
	if sh == nil {
		sh = &parkShard{changed: make(chan struct{}, 1)}
		p.shards = append(p.shards, sh)
		go p.watch(sh)
	}
	sh.links = append(sh.links, l)
	sh.signal()
	return sh
}

// remove takes l out of sh, if it is there.
func (p *parking) remove(sh *parkShard, l *link) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, other := range sh.links {
		if other == l {
			last := len(sh.links) - 1
			sh.links[i] = sh.links[last]
			sh.links[last] = nil
			sh.links = sh.links[:last]
			sh.signal()
			return
		}
	}
}

func (sh *parkShard) signal() {
	select {
	case sh.changed <- struct{}{}:
	default:
	}
}

// watch is the goroutine of one shard.
func (p *parking) watch(sh *parkShard) {
	heartbeat := time.NewTicker(p.heartbeatCheck)
	defer heartbeat.Stop()
	cases := []reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(sh.changed)},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(heartbeat.C)},
	}
	const fixed = 2
	var links, owners []*link
	for {
		p.mu.Lock()
		if len(sh.links) == 0 {
			for i, s := range p.shards {
				if s == sh {
					p.shards = append(p.shards[:i], p.shards[i+1:]...)
					break
				}
			}
			p.mu.Unlock()
			return
		}
		links = append(links[:0], sh.links...)
		p.mu.Unlock()

		clear(cases[fixed:])
		cases, owners = cases[:fixed], owners[:0]
		for _, l := range links {
			for _, ch := range [...]<-chan struct{}{l.device.Wake(), l.stale, l.fileWake} {
				if ch != nil {
					cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
					owners = append(owners, l)
				}
			}
		}
		chosen, _, _ := reflect.Select(cases)
		switch chosen {
		case 0: // links came or went
		case 1:
			for _, l := range links {
				if l.heartbeatDue() {
					p.remove(sh, l)
					l.wakeWriter()
				}
			}
		default:
			// The writer takes over; the kick of wakeWriter stands in for
			// the wake-up this select consumed.
			l := owners[chosen-fixed]
			p.remove(sh, l)
			l.wakeWriter()
		}
		clear(links)
		clear(owners)
	}
}
