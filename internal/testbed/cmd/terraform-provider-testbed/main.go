// Command terraform-provider-testbed serves the testbed provider to
// Terraform. It is not run by hand: testbed.BuildMirror installs it into a
// filesystem mirror and Terraform starts it.
package main

import (
	"context"
	"encoding/json"
	"log"
	"os"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/driftd/driftd/internal/testbed/provider"
)

// version must match the mirror layout written by testbed.BuildMirror.
const version = "0.1.0"

func main() {
	if path := os.Getenv(provider.EnvStartupLog); path != "" {
		if err := logStartup(path); err != nil {
			log.Fatal(err)
		}
	}
	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: provider.Address,
	})
	if err != nil {
		log.Fatal(err)
	}
}

// logStartup appends this start's StartupRecord to path. Lines are short
// enough for O_APPEND to keep concurrent starts' lines whole.
func logStartup(path string) error {
	line, err := json.Marshal(provider.StartupRecord{TempDir: os.TempDir(), TLS: os.Getenv("PLUGIN_CLIENT_CERT") != ""})
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
