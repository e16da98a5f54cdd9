package test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/parleygw/parley"

// TestImportRules enforces the one-way import directions of DESIGN §2.
func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	type pkg struct {
		ImportPath string
		Imports    []string
	}
	rules := []struct {
		from, to, why string
	}{
		{module + "/plugins/sdk", module + "/core", "the SDK must not depend on the daemon"},
		{module + "/plugins/groupwise/gwproto", module + "/plugins/sdk", "a protocol package must not import the SDK"},
		{module + "/plugins/sametime/stproto", module + "/plugins/sdk", "a protocol package must not import the SDK"},
		{module + "/plugins/groupwise/gwtest", module + "/plugins/groupwise/gwclient", "a fake server must not import its own client"},
		{module + "/plugins/sametime/sttest", module + "/plugins/sametime/stclient", "a fake server must not import its own client"},
		{module + "/plugins", module + "/core", "plugins must not depend on the daemon"},
		{module + "/client", module + "/core/session", "the device library must not reach into the daemon's state"},
	}
	checked := 0
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		for _, r := range rules {
			if p.ImportPath != r.from && !strings.HasPrefix(p.ImportPath, r.from+"/") {
				continue
			}
			checked++
			for _, imp := range p.Imports {
				if imp == r.to || strings.HasPrefix(imp, r.to+"/") {
					t.Errorf("%s imports %s: %s", p.ImportPath, imp, r.why)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no package matched any rule: the module layout changed, update the rules")
	}
}
