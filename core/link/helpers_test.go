package link_test

import (
	"crypto/tls"
	"net"
	"runtime"
	"time"
)

func tlsDial(addr string, cfg *tls.Config) (net.Conn, error) {
	return tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
}

func runtimeGosched() { runtime.Gosched() }
