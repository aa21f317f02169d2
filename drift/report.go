// Package drift turns a Terraform plan into a Report: what changed outside
// Terraform (drift), what code is merged but not applied (pending), with every
// sensitive value replaced by a marker before anything else sees it.
package drift

import (
	"time"
)

// SchemaVersion is the version of the JSON report schema
// (docs/report-schema.md). It changes only when a field changes meaning or
// disappears; new optional fields keep it.
const SchemaVersion = 1

// SensitiveMarker replaces every value Terraform marks sensitive, and every
// other occurrence of such a value, in a Report.
const SensitiveMarker = "(sensitive value)"

// Status is the outcome of one scan of one workspace.
type Status string

const (
	StatusClean   Status = "clean"
	StatusDrifted Status = "drifted"
	StatusError   Status = "error"
)

// Action says what happened to an object (drift) or what Terraform would do
// to it (pending).
type Action string

const (
	ActionCreate  Action = "create"
	ActionUpdate  Action = "update"
	ActionDelete  Action = "delete"
	ActionReplace Action = "replace"
	ActionRead    Action = "read"
)

// Report is the result of one scan of one workspace. Values in it are already
// redacted: a Report may be printed, stored or sent anywhere.
type Report struct {
	SchemaVersion int    `json:"schema_version"`
	Workspace     string `json:"workspace"`
	// ScanID identifies the scan in logs (the scan_id of every line).
	ScanID    string    `json:"scan_id,omitempty"`
	Status    Status    `json:"status"`
	StartedAt time.Time `json:"started_at"`
	// Duration is the wall time of the whole scan (init, plan, show, analysis).
	Duration         time.Duration `json:"duration_ns"`
	TerraformVersion string        `json:"terraform_version,omitempty"`
	RefreshOnly      bool          `json:"refresh_only,omitempty"`
	// Commit is the git commit scanned, for workspaces with a git source.
	Commit string `json:"commit,omitempty"`
	// Owners come from the workspace's config (GitHub users or teams).
	Owners []string `json:"owners,omitempty"`

	// Drift lists objects changed or deleted outside Terraform.
	Drift []ResourceChange `json:"drift"`
	// Pending lists changes Terraform would make that drift does not explain:
	// code merged but not applied.
	Pending []ResourceChange `json:"pending"`
	// Outputs lists root module outputs whose value would change.
	Outputs []OutputChange `json:"outputs,omitempty"`
	// Ignored counts drift entries (resources or attributes) dropped by
	// ignore rules.
	Ignored int `json:"ignored,omitempty"`
	// Fingerprint identifies the drift set: equal fingerprints mean the same
	// drift. Empty when there is no drift.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Error holds Terraform's diagnostics (trimmed, redacted) when Status is
	// StatusError.
	Error string `json:"error,omitempty"`
}

// ResourceChange is one resource instance that drifted or has a pending
// change.
type ResourceChange struct {
	Address      string `json:"address"`
	Module       string `json:"module,omitempty"`
	Type         string `json:"type"`
	Name         string `json:"name"`
	ProviderName string `json:"provider_name,omitempty"`
	Action       Action `json:"action"`
	// Attributes lists changed leaf attributes, sorted by path. Empty for
	// whole-object creations and deletions.
	Attributes []AttributeChange `json:"attributes,omitempty"`
}

// AttributeChange is one changed leaf attribute. Path uses Terraform's
// syntax: tags.env, rule[0].port, and tags["Cost Center"] for keys that are
// not identifiers.
type AttributeChange struct {
	Path string `json:"path"`
	// Before and After are JSON values (string, float64, bool, nil, or
	// SensitiveMarker). After is nil when Unknown.
	Before any `json:"before"`
	After  any `json:"after"`
	// Sensitive is true when either side was redacted.
	Sensitive bool `json:"sensitive,omitempty"`
	// Unknown is true when the new value is known only after apply.
	Unknown bool `json:"unknown,omitempty"`
}

// OutputChange is a root module output whose value would change.
type OutputChange struct {
	Name      string `json:"name"`
	Action    Action `json:"action"`
	Before    any    `json:"before"`
	After     any    `json:"after"`
	Sensitive bool   `json:"sensitive,omitempty"`
	Unknown   bool   `json:"unknown,omitempty"`
}

// HasDrift reports whether the scan found drift.
func (r *Report) HasDrift() bool { return r != nil && len(r.Drift) > 0 }

// IgnoreRule drops drift the operator has decided not to hear about. A rule
// matches a resource when every non-empty selector matches. With no
// Attributes the whole resource is ignored; otherwise only the attributes
// whose path matches one of the globs.
type IgnoreRule struct {
	// Address is a glob over the resource address (path.Match syntax, where
	// "*" also crosses dots and brackets), e.g. "module.legacy.*".
	Address string `json:"address,omitempty"`
	// Type is a resource type glob, e.g. "aws_autoscaling_group".
	Type string `json:"type,omitempty"`
	// Attributes are globs over attribute paths as Report shows them,
	// e.g. "tags.LastScanned", `tags["Cost Center"]`, "rule[*].cidr_blocks*".
	// A key may also be written ["key"] where Report writes .key:
	// `tags["LastScanned"]` matches tags.LastScanned. Addresses and paths
	// match as the plan has them and as Report shows them, with secrets
	// replaced: `tags["(sensitive value)"]` matches every secret key of tags.
	Attributes []string `json:"attributes,omitempty"`
}
