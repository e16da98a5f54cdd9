package link

import dto "github.com/prometheus/client_model/go"

// RequestHandler is what runs a link's requests, for tests that stand in
// for an asynchronous router.
type RequestHandler = requestHandler

// SetRequestHandler makes h run the requests of the server's links.
func (s *Server) SetRequestHandler(h RequestHandler) { s.handler = h }

// Throttled is how often the server's links stopped reading because they
// had MaxInFlight requests in flight.
func (s *Server) Throttled() float64 {
	var m dto.Metric
	s.metrics.throttled.Write(&m)
	return m.GetCounter().GetValue()
}

// Parked is how many links have no writer goroutine.
func (s *Server) Parked() int {
	s.parking.mu.Lock()
	defer s.parking.mu.Unlock()
	n := 0
	for _, sh := range s.parking.shards {
		n += len(sh.links)
	}
	return n
}
