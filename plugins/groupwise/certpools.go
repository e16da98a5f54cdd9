package groupwise

import (
	"bytes"
	"crypto/x509"
	"sync"

	"github.com/parleygw/parley/plugins/sdk"
)

// certPools parses the PEM bundle that verifies the server once for the
// sessions that share it (normally all of them: the gateway's default
// server), instead of one pool per session.
type certPools struct {
	mu   sync.Mutex
	pem  []byte
	pool *x509.CertPool
}

// get returns the pool of pem, parsing it unless it is the bundle of the
// previous call.
func (c *certPools) get(pem []byte) (*x509.CertPool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pool != nil && bytes.Equal(c.pem, pem) {
		return c.pool, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, &sdk.Error{Reason: sdk.ReasonInvalidArgument, Message: "groupwise: the server CA PEM holds no certificate"}
	}
	c.pem, c.pool = bytes.Clone(pem), pool
	return pool, nil
}
