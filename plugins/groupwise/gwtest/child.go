package gwtest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A benchmark that measures what a client's connections cost its own
// process runs the fake server in a child process, so that the server's
// memory is not counted: StartChild re-runs the test binary with one test
// selected, and that test calls ServeChild.

// childUsersEnv tells the test StartChild selects to serve, and how many
// accounts the server has.
const childUsersEnv = "GWTEST_CHILD_USERS"

// ChildPassword is the password of every account of a child server.
const ChildPassword = "secret"

// ChildUser is the user id of account i of a child server.
func ChildUser(i int) string { return "idle" + strconv.Itoa(i) }

// ServeChild serves the fake server of StartChild when the process is
// such a child, and reports false otherwise (the test should then skip).
// It prints the address and the CA certificate, then serves until its
// standard input closes.
func ServeChild() (bool, error) {
	n, err := strconv.Atoi(os.Getenv(childUsersEnv))
	if err != nil {
		return false, nil
	}
	users := make([]User, n)
	for i := range users {
		users[i] = User{ID: ChildUser(i), Password: ChildPassword, FullName: "Idle " + strconv.Itoa(i)}
	}
	srv, err := Start(WithUsers(users), WithIdleTimeout(time.Hour))
	if err != nil {
		return true, err
	}
	defer srv.Close()
	fmt.Printf("%s\n%s", srv.Addr(), srv.CACertPEM())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return true, nil
}

// StartChild runs the test named test (which calls ServeChild) in a child
// process with n accounts, and returns the server's address and its CA
// certificate in PEM. The child stops when tb's test ends.
func StartChild(tb testing.TB, test string, n int) (addr string, caPEM []byte) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), childUsersEnv+"="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	r := bufio.NewReader(stdout)
	line, err := r.ReadString('\n')
	if err != nil {
		tb.Fatalf("gwtest child: %v", err)
	}
	var cert strings.Builder
	for !strings.Contains(cert.String(), "-----END CERTIFICATE-----") {
		line, err := r.ReadString('\n')
		if err != nil {
			tb.Fatalf("gwtest child certificate: %v", err)
		}
		cert.WriteString(line)
	}
	return strings.TrimSpace(line), []byte(cert.String())
}
