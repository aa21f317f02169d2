// Package drift turns a Terraform plan into a Report: what changed outside
// Terraform (drift), what code is merged but not applied (pending), with every
// sensitive value replaced by a marker before anything else sees it.
package drift

import (
	"time"
)

// SchemaVersion is the version of the JSON report schema
// (docs/report-schema.md). It changes only when a field changes meaning or
// disappears; new optional fields keep it. Version 2: pending lists every
// planned change drift does not undo, each with its cause.
const SchemaVersion = 2

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
	// Source says where the workspace's code lives, for the advice on
	// what to run where.
	Source *Source `json:"source,omitempty"`
	// Owners come from the workspace's config (GitHub users or teams).
	Owners []string `json:"owners,omitempty"`

	// Drift lists objects changed or deleted outside Terraform.
	Drift []ResourceChange `json:"drift"`
	// Pending lists the changes Terraform would make other than undoing
	// the drift, each with its Cause: code merged but not applied, or a
	// consequence of something that changed outside the code.
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
	// Cause says why a pending change would happen; empty for drift.
	Cause Cause `json:"cause,omitempty"`
	// FollowsFrom names the objects changed outside the code that a
	// pending change follows from, each with its cause: all of them when
	// Cause is not CauseCode, those behind the attributes marked with
	// their own Cause when it is.
	FollowsFrom []Origin `json:"follows_from,omitempty"`
	// Identity holds, for a whole object deleted (outside Terraform, or by
	// the code), the attributes that say which object it was: id, name,
	// arn, filename...
	Identity []Attribute `json:"identity,omitempty"`
	// Attributes lists changed leaf attributes, sorted by path. Empty for
	// whole-object creations and deletions.
	Attributes []AttributeChange `json:"attributes,omitempty"`
}

// Cause is why Terraform would make a pending change.
type Cause string

const (
	// CauseCode is code merged but not applied, and anything else driftd
	// cannot trace to a change outside Terraform: when unsure, a change is
	// code.
	CauseCode Cause = "code"
	// CauseDrift is a consequence of drift: the change follows from
	// objects changed or deleted outside Terraform (FollowsFrom).
	CauseDrift Cause = "drift"
	// CauseInput follows from data sources that read something else than
	// at the last apply, with their own arguments unchanged.
	CauseInput Cause = "input"
	// CauseTime follows from a time-based object whose rotation time has
	// passed (time_rotating and its like).
	CauseTime Cause = "time"
)

// Origin is an object whose change outside the code a pending change
// follows from: a drifted resource, a data source that read something new,
// or a time-based resource that expired.
type Origin struct {
	Address string `json:"address"`
	Cause   Cause  `json:"cause"`
}

// Attribute is one attribute's value.
type Attribute struct {
	Path      string `json:"path"`
	Value     any    `json:"value"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// Source is where a workspace's code lives: a directory, or a path in a
// git repository.
type Source struct {
	Dir string `json:"dir,omitempty"`
	// Repo is the git URL without credentials.
	Repo string `json:"repo,omitempty"`
	Path string `json:"path,omitempty"`
	Ref  string `json:"ref,omitempty"`
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
	// Recomputed marks, in a replacement, an unknown attribute the
	// configuration does not set: the provider computes it anew for the
	// new object (ids, timestamps), which says nothing about why.
	Recomputed bool `json:"recomputed,omitempty"`
	// Cause, in a pending change, is this attribute's own cause where it
	// differs from the change's.
	Cause Cause `json:"cause,omitempty"`
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

// PendingCode counts the pending changes that are code not applied.
func (r *Report) PendingCode() int {
	n := 0
	for _, c := range r.Pending {
		if c.Cause == CauseCode || c.Cause == "" {
			n++
		}
	}
	return n
}

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

// DataReads are what data sources read, by instance address, as a state
// file keeps them: attribute name to JSON value.
type DataReads map[string]map[string]any
