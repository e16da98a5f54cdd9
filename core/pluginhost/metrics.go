package pluginhost

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// metrics are the host's Prometheus metrics. A nil *metrics records
// nothing.
type metrics struct {
	up         *prometheus.GaugeVec
	restarts   *prometheus.CounterVec
	callErrors *prometheus.CounterVec
	logDropped *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "parley_plugin_up",
			Help: "1 while the backend's plugin runs and answers, else 0."}, []string{"backend"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_plugin_restarts_total",
			Help: "Plugin launches after a crash or failed health checks."}, []string{"backend"}),
		callErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_plugin_call_errors_total",
			Help: "Failed gRPC calls to plugins, by method and status code."}, []string{"backend", "method", "code"}),
		logDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_plugin_log_lines_dropped_total",
			Help: "Plugin log lines dropped by the rate limit."}, []string{"backend"}),
	}
	for _, c := range []prometheus.Collector{m.up, m.restarts, m.callErrors, m.logDropped} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) setUp(backend string, up bool) {
	if m == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	m.up.WithLabelValues(backend).Set(v)
}

func (m *metrics) restarted(backend string) {
	if m != nil {
		m.restarts.WithLabelValues(backend).Inc()
	}
}

// logDroppedFunc returns the counter hook for a plugin's pluginOutput.
func (m *metrics) logDroppedFunc(backend string) func() {
	if m == nil {
		return nil
	}
	c := m.logDropped.WithLabelValues(backend)
	return c.Inc
}

// callErrorFunc returns the counter hook for failed calls: those of the
// core as well as the host's own, unary or carried on the Calls stream
// (sdk.Client.ObserveCall reports each of those under the method it stands
// for). go-plugin's internal services (/plugin.*) and calls the caller
// cancelled are not counted.
func (m *metrics) callErrorFunc(backend string) func(method string, err error) {
	if m == nil {
		return nil
	}
	return func(method string, err error) {
		if err == nil || errors.Is(err, io.EOF) || strings.HasPrefix(method, "/plugin.") {
			return
		}
		code := status.Code(err)
		if code == codes.Canceled {
			return
		}
		m.callErrors.WithLabelValues(backend, method, code.String()).Inc()
	}
}

// dialOptions count the failed calls on a plugin's connection, and the end
// of its streams.
func (m *metrics) dialOptions(backend string) []grpc.DialOption {
	if m == nil {
		return nil
	}
	count := m.callErrorFunc(backend)
	unary := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		count(method, err)
		return err
	}
	stream := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			count(method, err)
			return nil, err
		}
		return &countingStream{ClientStream: s, method: method, count: count}, nil
	}
	return []grpc.DialOption{grpc.WithChainUnaryInterceptor(unary), grpc.WithChainStreamInterceptor(stream)}
}

// countingStream counts the error that ends a stream.
type countingStream struct {
	grpc.ClientStream
	method string
	count  func(string, error)
}

func (s *countingStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	s.count(s.method, err)
	return err
}
