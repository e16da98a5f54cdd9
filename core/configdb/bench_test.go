package configdb

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkAuthorize measures the lookup every login makes, on SQLite.
func BenchmarkAuthorize(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, DriverSQLite, b.TempDir()+"/parley.db")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for i := range 1000 {
		if _, err := db.AddUser(ctx, "bench", User{Login: fmt.Sprintf("user%d", i), Enabled: true, Backend: "groupwise"}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := db.Authorize(ctx, fmt.Sprintf("user%d", i%1000)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkPolicyCheck measures the check made on every file offer.
func BenchmarkPolicyCheck(b *testing.B) {
	p := Policy{FileTransfer: true, MaxFileBytes: 10 << 20,
		BlockedExtensions: []string{"bat", "cmd", "com", "exe", "msi", "pif", "scr", "vbs"}}
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Check("holiday-photos/IMG_2041.JPG", 3<<20); err != nil {
			b.Fatal(err)
		}
	}
}
