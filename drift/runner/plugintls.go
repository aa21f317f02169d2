package runner

import "path/filepath"

// Terraform talks to each provider process over gRPC, by default with
// mutual TLS (go-plugin's AutoMTLS): both sides make a fresh P-521 key and
// certificate for every provider start, and a plan starts the provider
// three times. That is about 0.1 s of CPU per plan, 15 % of a small plan's
// whole cost (docs/performance.md).
//
// On Unix the channel is a Unix socket, which go-plugin creates in the
// provider's temp dir. When that dir is a 0700 directory inside the scan's
// own 0700 directory, only driftd's user (and root) can reach the socket,
// and that user can read the scan's credentials from the processes'
// environment anyway: TLS protects nothing more. So driftd points TMPDIR
// there and turns the TLS off (TF_DISABLE_PLUGIN_TLS, through
// terraform-exec's SetDisablePluginTLS). It keeps Terraform's default:
//   - on Windows, where go-plugin uses TCP on localhost, open to every user;
//   - when the workspace sets plugin_tls, or its own TMPDIR (the socket
//     would go somewhere driftd does not control);
//   - when the socket's path would be too long for a Unix socket.

// maxSocketDir bounds the temp dir's length: go-plugin names the socket
// "plugin" plus up to 10 digits, and a Unix socket path has at most 103
// bytes on macOS (107 on Linux).
const maxSocketDir = 103 - len("/plugin0123456789")

// pluginSocketDir returns the private temp dir for spec's scan, whose
// directory is base, and true when the scan's providers may run without
// TLS; "" and false keep Terraform's default.
func pluginSocketDir(goos, base string, spec Spec) (string, bool) {
	if goos == "windows" || spec.PluginTLS {
		return "", false
	}
	if _, set := spec.Env["TMPDIR"]; set {
		return "", false
	}
	dir := filepath.Join(base, "tmp")
	if len(dir) > maxSocketDir {
		return "", false
	}
	return dir, true
}
