// Command terraform-provider-testbed serves the testbed provider to
// Terraform. It is not run by hand: testbed.BuildMirror installs it into a
// filesystem mirror and Terraform starts it.
package main

import (
	"context"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/driftd/driftd/internal/testbed/provider"
)

// version must match the mirror layout written by testbed.BuildMirror.
const version = "0.1.0"

func main() {
	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: provider.Address,
	})
	if err != nil {
		log.Fatal(err)
	}
}
