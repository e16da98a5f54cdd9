package core

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/parleygw/parley/conf"
	"github.com/parleygw/parley/core/configdb"
	"github.com/parleygw/parley/core/filexfer"
	"github.com/parleygw/parley/core/router"
	"github.com/prometheus/client_golang/prometheus"
)

// frameOverhead is what a FileChunk's frame needs besides its data.
const frameOverhead = 1 << 10

// newFiles builds the file transfer manager: policies from the
// configuration database with the config's file_policy as the default,
// the transfer log in the database, spool files under the data dir.
func newFiles(cfg *conf.Config, db *configdb.DB, logger hclog.Logger, reg prometheus.Registerer) (*filexfer.Manager, error) {
	m, err := filexfer.New(filexfer.Options{
		Policies:    filePolicies{db: db, fallback: defaultPolicy(cfg)},
		Journal:     db,
		SpoolDir:    filepath.Join(cfg.DataDir, "transfers"),
		DeviceError: router.DeviceError,
		ChunkSize:   min(filexfer.MaxChunk, cfg.Frame.MaxFrame-frameOverhead),
		Logger:      logger,
		Registerer:  reg,
	})
	if err != nil {
		return nil, fmt.Errorf("core: file transfer: %w", err)
	}
	return m, nil
}

// defaultPolicy is the configuration's file_policy.
func defaultPolicy(cfg *conf.Config) configdb.Policy {
	fp := cfg.FilePolicy
	return configdb.Policy{FileTransfer: fp.Enabled, MaxFileBytes: fp.MaxFileBytes,
		BlockedExtensions: fp.BlockedExtensions, OptimizeAllowed: fp.OptimizeAllowed}
}

// filePolicies looks up users' file policies for the transfer manager.
type filePolicies struct {
	db       *configdb.DB
	fallback configdb.Policy
}

func (p filePolicies) Policy(ctx context.Context, user string) (configdb.Policy, error) {
	return p.db.EffectivePolicy(ctx, user, p.fallback)
}
