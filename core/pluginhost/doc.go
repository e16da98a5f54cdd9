// Package pluginhost finds, starts and supervises parleyd's backend plugins.
//
// Plugins are the parley-backend-<name>[_v<semver>] executables in one
// directory. The directory is scanned at Start and on Reload only, never on
// file-system events, so a half-copied binary is never run. Symlinks,
// non-regular files, files without the execute bit, group- or
// world-writable files, files owned by another user than root or the
// gateway's, and other names are skipped with a log line; of several
// versions of one plugin the highest is used.
//
// Every configured backend gets a supervisor that runs its plugin through
// hashicorp/go-plugin over gRPC with AutoMTLS, optional sha256 pinning, an
// explicit environment, a private TMPDIR and, on Linux, Pdeathsig. The
// supervisor checks that the plugin's GetInfo agrees with its file name,
// configures it, subscribes to its events and watches it: the end of the
// event stream, the exit of the process and failed health checks (the gRPC
// health service and the plugin's own Health, each under a deadline) all
// lead to a restart with a fresh go-plugin client, after an exponential
// backoff with jitter. Too many crashes in a short time trip a breaker:
// the backend is marked failed and left alone until the next Reload.
//
// A plugin's stderr is parsed by this package, not by go-plugin, whose
// parser panics the host on a line such as {"@message": 42}: lines are
// length-capped, rate-limited and re-logged through the gateway's logger.
package pluginhost
