package configdb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
)

type sessionChange struct {
	id   string
	data []byte // nil: delete
}

func writeSessions(ctx context.Context, db *DB, changes ...sessionChange) error {
	return db.WriteSessions(ctx, len(changes), func(i int) (string, string, string, []byte) {
		return changes[i].id, "alice", "groupwise", changes[i].data
	})
}

func loadedSessions(t *testing.T, db *DB) []string {
	t.Helper()
	blobs, err := db.LoadSessions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range blobs {
		out = append(out, string(b))
	}
	slices.Sort(out)
	return out
}

func TestWriteSessionsSavesReplacesAndDeletesInOneTransaction(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tg target) {
		db := open(t, tg)
		ctx := context.Background()
		if err := writeSessions(ctx, db, sessionChange{"a", []byte("a1")}, sessionChange{"b", []byte("b1")}, sessionChange{"c", []byte("c1")}); err != nil {
			t.Fatal(err)
		}
		if err := writeSessions(ctx, db, sessionChange{"a", []byte("a2")}, sessionChange{id: "b"}, sessionChange{id: "missing"}); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(loadedSessions(t, db)); got != "[a2 c1]" {
			t.Fatalf("stored %s, want [a2 c1]", got)
		}
		if err := writeSessions(ctx, db); err != nil {
			t.Fatalf("an empty batch: %v", err)
		}
	})
}

func TestWriteSessionsIsAllOrNothing(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tg target) {
		db := open(t, tg)
		ctx, cancel := context.WithCancel(context.Background())
		err := db.WriteSessions(ctx, 3, func(i int) (string, string, string, []byte) {
			if i == 2 {
				cancel() // the transaction is rolled back before the third write
			}
			return fmt.Sprint("s", i), "alice", "groupwise", []byte("data")
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("write with its context cancelled half way: %v, want context.Canceled", err)
		}
		if got := loadedSessions(t, db); len(got) != 0 {
			t.Fatalf("stored %v after a failed batch, want nothing", got)
		}
	})
}

// BenchmarkWriteSessions measures sessions saved per second on SQLite,
// one per transaction (as every login, resume and detach wrote its
// session before the write-behind persister) and in batches of 256.
func BenchmarkWriteSessions(b *testing.B) {
	data := make([]byte, 420) // the size of a one-device session record
	for _, batch := range []int{1, 256} {
		b.Run(fmt.Sprint("batch=", batch), func(b *testing.B) {
			ctx := context.Background()
			db, err := Open(ctx, DriverSQLite, b.TempDir()+"/parley.db")
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			saved := 0
			for b.Loop() {
				err := db.WriteSessions(ctx, batch, func(i int) (string, string, string, []byte) {
					return fmt.Sprint("session", (saved+i)%10000), "alice", "groupwise", data
				})
				if err != nil {
					b.Fatal(err)
				}
				saved += batch
			}
			b.ReportMetric(float64(saved)/b.Elapsed().Seconds(), "sessions/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(saved), "ns/session")
		})
	}
}
