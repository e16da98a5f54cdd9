package session

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/parleygw/parley/core/configdb"
)

// BenchmarkResumeSaved measures resumes per second with the sessions
// persisted to SQLite, 64 resumes in flight per CPU as in a reconnect
// storm; the time includes writing every resumed session (Flush).
func BenchmarkResumeSaved(b *testing.B) {
	ctx := context.Background()
	db, err := configdb.Open(ctx, configdb.DriverSQLite, b.TempDir()+"/parley.db")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	m := NewManager(Config{Store: db, MaxSessions: 100000}, func(*Session, string) {}, nil)
	const parallelism = 64
	workers := runtime.GOMAXPROCS(0) * parallelism
	type device struct {
		session string
		token   []byte
	}
	perWorker := make([][]device, workers)
	for w := range workers {
		for i := range 8 {
			d, token, _, err := m.Login(ctx, fmt.Sprint("user", w, "-", i), "memory", "login", "secret", "phone", openOK)
			if err != nil {
				b.Fatal(err)
			}
			perWorker[w] = append(perWorker[w], device{d.Session().ID, token})
		}
	}
	m.Flush()
	var nextWorker atomic.Int64
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mine := perWorker[nextWorker.Add(1)-1]
		for i := 0; pb.Next(); i++ {
			d := &mine[i%len(mine)]
			_, token, err := m.Resume(d.session, d.token, 0, "phone")
			if err != nil {
				b.Error(err)
				return
			}
			d.token = token
		}
	})
	m.Flush()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "resumes/s")
}

// The write-behind path against the real configuration database: a
// logged-out session is deleted, a detached one comes back after a clean
// restart and its device resumes.
func TestSessionsSurviveARestartOnSQLite(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/parley.db"
	sealer, err := LoadSealer(t.TempDir() + "/credential.key")
	if err != nil {
		t.Fatal(err)
	}
	db, err := configdb.Open(ctx, configdb.DriverSQLite, path)
	if err != nil {
		t.Fatal(err)
	}
	before, _, _ := newTestManager(Config{Store: db, Sealer: sealer})
	gone, _ := login(t, before, "bob", "phone")
	kept, token := login(t, before, "alice", "phone")
	before.Logout(gone)
	before.Detach(kept, gen(kept))
	before.SaveAll()
	db.Close()

	if db, err = configdb.Open(ctx, configdb.DriverSQLite, path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	after, _, _ := newTestManager(Config{Store: db, Sealer: sealer})
	if restored, relogin, err := after.Restore(ctx); err != nil || restored != 1 || relogin != 0 {
		t.Fatalf("restore: %d restored, %d relogin, %v; want only alice's session", restored, relogin, err)
	}
	if _, _, err := after.Resume(kept.Session().ID, token, 0, "phone"); err != nil {
		t.Fatalf("resume after the restart: %v", err)
	}
}
