package link

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	links          prometheus.Gauge
	framesIn       prometheus.Counter
	framesOut      prometheus.Counter
	protocolErrors *prometheus.CounterVec
	loginFailures  *prometheus.CounterVec
	throttled      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		links:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "parley_device_links", Help: "Open device links."}),
		framesIn:  prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_device_frames_received_total", Help: "Frames read from devices."}),
		framesOut: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_device_frames_sent_total", Help: "Frames written to devices."}),
		protocolErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_device_protocol_errors_total",
			Help: "Links closed for breaking the device protocol, by reason."}, []string{"reason"}),
		loginFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_login_failures_total",
			Help: "Refused logins and resumes, by error code."}, []string{"code"}),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_device_requests_throttled_total",
			Help: "Times a link stopped reading because it had the most requests in flight it may have."}),
	}
	if reg != nil {
		reg.MustRegister(m.links, m.framesIn, m.framesOut, m.protocolErrors, m.loginFailures, m.throttled)
	}
	return m
}
