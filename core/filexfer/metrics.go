package filexfer

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	endedVec  *prometheus.CounterVec
	optimized prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, m *Manager) *metrics {
	mt := &metrics{
		endedVec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_file_transfers_total",
			Help: "File transfers that ended, by direction and outcome (delivered, refused, declined, cancelled, failed)."},
			[]string{"direction", "outcome"}),
		optimized: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_file_images_optimized_total",
			Help: "Images downscaled for a device's screen."}),
	}
	if reg == nil {
		return mt
	}
	active := func(dir direction) prometheus.GaugeFunc {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "parley_file_transfers_active",
			Help: "File transfers in progress.", ConstLabels: prometheus.Labels{"direction": dir.String()}},
			func() float64 { return float64(m.active(dir)) })
	}
	spool := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "parley_file_spool_reserved_bytes",
		Help: "Disk reserved by the spool files of transfers in progress."},
		func() float64 {
			m.mu.Lock()
			defer m.mu.Unlock()
			return float64(m.spoolUsed)
		})
	lent := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "parley_file_chunk_buffer_bytes",
		Help: "Memory holding file chunks read from spool files and not yet framed for their device."},
		func() float64 { return float64(m.bufs.lent.Load()) })
	reg.MustRegister(mt.endedVec, mt.optimized, active(sending), active(receiving), spool, lent)
	return mt
}

func (mt *metrics) ended(dir direction, outcome string) {
	mt.endedVec.WithLabelValues(dir.String(), outcome).Inc()
}

// active counts the transfers in progress in one direction.
func (m *Manager) active(dir direction) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, t := range m.transfers {
		if t.dir == dir {
			n++
		}
	}
	return n
}
