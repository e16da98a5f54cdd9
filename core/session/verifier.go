package session

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"runtime"
	"sync"
)

// passwordVerifier lets a second device of a user join the existing
// backend session without a second IM login: its password is checked
// against a salted PBKDF2 hash of the password that opened the session.
// The password itself is never kept.
type passwordVerifier struct {
	salt [16]byte
	hash []byte
}

const verifierIterations = 4096

func newVerifier(password string) passwordVerifier {
	var v passwordVerifier
	rand.Read(v.salt[:])
	v.hash = derive(password, v.salt[:])
	return v
}

func (v passwordVerifier) matches(password string) bool {
	return len(v.hash) > 0 && subtle.ConstantTimeCompare(v.hash, derive(password, v.salt[:])) == 1
}

func derive(password string, salt []byte) []byte {
	key, err := pbkdf2.Key(sha256.New, password, salt, verifierIterations, 32)
	if err != nil { // only for invalid parameters, which are constant here
		panic(err)
	}
	return key
}

// deriver derives the verifiers of new sessions off the login path, on at
// most GOMAXPROCS goroutines that exist only while there is work: a burst
// of logins queues its derivations (a session and a password each) instead
// of starting a goroutine per login.
type deriver struct {
	mu      sync.Mutex
	queue   []derivation
	workers int
}

type derivation struct {
	s        *Session
	password string
}

// derive queues the derivation of s's verifier; s.verifierReady closes
// when it is set.
func (d *deriver) derive(s *Session, password string) {
	d.mu.Lock()
	d.queue = append(d.queue, derivation{s, password})
	start := d.workers < runtime.GOMAXPROCS(0)
	if start {
		d.workers++
	}
	d.mu.Unlock()
	if start {
		go d.work()
	}
}

func (d *deriver) work() {
	for {
		d.mu.Lock()
		if len(d.queue) == 0 {
			d.queue = nil // release the backing array after a burst
			d.workers--
			d.mu.Unlock()
			return
		}
		job := d.queue[0]
		d.queue[0] = derivation{} // the password is not kept
		d.queue = d.queue[1:]
		d.mu.Unlock()
		job.s.verifier = newVerifier(job.password)
		close(job.s.verifierReady)
	}
}
