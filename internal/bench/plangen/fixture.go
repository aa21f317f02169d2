package plangen

import _ "embed"

// RealPlan is `terraform show -json` (Terraform 1.11.4) of a real testbed
// workspace: ten testbed_object instances with sensitive attributes, two
// drifted outside Terraform (a tag, a sensitive value) and one pending code
// change. It was made with the configuration of internal/bench's large-plan
// workspace at count = 10, by editing two objects and one line of code
// between apply and plan. Scale it for large-plan benchmarks.
//
//go:embed realplan.json
var RealPlan []byte
