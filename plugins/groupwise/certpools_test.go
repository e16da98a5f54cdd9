package groupwise

import (
	"testing"

	"github.com/parleygw/parley/plugins/groupwise/gwtest"
)

func TestCertPoolsParseABundleOnce(t *testing.T) {
	a, b := gwtest.NewServer(t).CACertPEM(), gwtest.NewServer(t).CACertPEM()
	var pools certPools
	first, err := pools.get(a)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := pools.get(append([]byte(nil), a...)); again != first {
		t.Error("the same bundle was parsed again")
	}
	other, err := pools.get(b)
	if err != nil || other == first {
		t.Fatalf("another bundle: %v, %v; want its own pool", other, err)
	}
	if _, err := pools.get([]byte("not PEM")); err == nil {
		t.Error("a bundle without certificates was accepted")
	}
	if again, _ := pools.get(b); again != other {
		t.Error("a refused bundle replaced the cached pool")
	}
}
