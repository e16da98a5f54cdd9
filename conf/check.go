package conf

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

var tlsVersions = map[string]uint16{
	"1.2": tls.VersionTLS12,
	"1.3": tls.VersionTLS13,
}

// pluginBinaryPrefix starts the file name of every backend plugin binary.
const pluginBinaryPrefix = "parley-backend-"

func oneOf(allowed ...string) func(string) error {
	return func(s string) error {
		if slices.Contains(allowed, s) {
			return nil
		}
		return fmt.Errorf("%q is not one of %s", s, quoteList(allowed))
	}
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

func checkNonEmpty(s string) error {
	if s == "" {
		return errors.New("the value must not be empty")
	}
	return nil
}

func checkAbsPath(s string) error {
	if !filepath.IsAbs(s) {
		return fmt.Errorf("%q is not an absolute path", s)
	}
	return nil
}

// checkTCPAddr accepts host:port with a numeric port; an empty host means
// every interface and port 0 a free port.
func checkTCPAddr(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port (examples: \":4101\", \"10.0.0.5:4101\", \"[::1]:4101\")", s)
	}
	if _, err := parsePort(port); err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	return nil
}

func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 {
		return 0, fmt.Errorf("port %q is not a number from 0 to 65535", s)
	}
	return n, nil
}

// parseAdminAddr splits an admin address into network and address:
// "unix:<path>" is a unix socket, anything else a loopback host:port.
func parseAdminAddr(s string) (network, addr string, err error) {
	if path, ok := strings.CutPrefix(s, "unix:"); ok {
		if path == "" {
			return "", "", errors.New(`"unix:" needs a socket path, e.g. "unix:/run/parley/admin.sock"`)
		}
		return "unix", path, nil
	}
	if err := checkTCPAddr(s); err != nil {
		return "", "", err
	}
	host, _, _ := net.SplitHostPort(s)
	if !isLoopback(host) {
		return "", "", fmt.Errorf("%q: the admin API listens only on a loopback address (127.0.0.1, [::1], localhost) or a unix socket (\"unix:/run/parley/admin.sock\")", s)
	}
	return "tcp", s, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkHost accepts a host name or an IP address, without a port.
func checkHost(s string) error {
	if s == "" {
		return errors.New("the host must not be empty")
	}
	if net.ParseIP(s) != nil {
		return nil
	}
	if strings.Contains(s, ":") {
		return fmt.Errorf("%q: give the host alone and the port as port = ...", s)
	}
	if strings.ContainsAny(s, " \t/\\@") {
		return fmt.Errorf("%q is not a host name or IP address", s)
	}
	return nil
}

// pluginName accepts a plugin name ("groupwise") or its binary's name
// ("parley-backend-groupwise") and returns the plugin name.
func pluginName(s string) (string, error) {
	name := strings.TrimPrefix(s, pluginBinaryPrefix)
	if !pluginNameRE.MatchString(name) {
		return "", fmt.Errorf("%q is not a plugin name: 1 to 63 lower-case letters, digits or '-', as in %s<name>", s, pluginBinaryPrefix)
	}
	return name, nil
}

// normExtension normalises a blocked file extension: lower case, no leading
// dot. "*" stands for every file.
func normExtension(s string) (string, error) {
	ext := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "."))
	if ext == "*" {
		return ext, nil
	}
	if ext == "" || len(ext) > 32 || strings.HasSuffix(ext, ".") {
		return "", fmt.Errorf("%q is not a file extension", s)
	}
	for _, r := range ext {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("._+-~", r)) {
			return "", fmt.Errorf("%q is not a file extension (letters, digits and . _ + - ~ only)", s)
		}
	}
	return ext, nil
}

// tidyExtensions sorts and deduplicates a blocked-extension list; a list
// holding "*" becomes just "*".
func tidyExtensions(exts []string) []string {
	if slices.Contains(exts, "*") {
		return []string{"*"}
	}
	out := slices.Clone(exts)
	slices.Sort(out)
	return slices.Compact(out)
}

// checkPortClashes reports two TCP listeners configured on the same port
// where their addresses overlap.
func (d *decoder) checkPortClashes(cfg *Config) {
	type listener struct{ path, addr string }
	ls := []listener{{"listener.device.address", cfg.Device.Address}}
	if cfg.Admin.Network == "tcp" {
		ls = append(ls, listener{"admin.address", cfg.Admin.Address})
	}
	if cfg.Metrics.Address != "" {
		ls = append(ls, listener{"metrics.address", cfg.Metrics.Address})
	}
	for i, a := range ls {
		for _, b := range ls[i+1:] {
			if addrsOverlap(a.addr, b.addr) {
				d.errorf(d.rangeOf(b.path, a.path), "Conflicting addresses",
					"%s (%q) and %s (%q) use the same port", a.path, a.addr, b.path, b.addr)
			}
		}
	}
}

func addrsOverlap(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	return ha == hb || isUnspecified(ha) || isUnspecified(hb)
}

func isUnspecified(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}
