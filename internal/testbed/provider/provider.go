// Package provider is the testbed Terraform provider: a real provider, built
// with terraform-plugin-framework, whose objects are JSON files in a local
// directory. Editing or deleting those files models changes made outside
// Terraform, which is what driftd's tests and demo need without a cloud.
package provider

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Address is the provider's source address; TypeName its type name.
const (
	Address  = "driftd.test/driftd/testbed"
	TypeName = "testbed"
)

// Environment variables that configure the provider when the matching
// provider attribute is unset.
const (
	EnvRoot        = "TESTBED_ROOT"
	EnvReadLatency = "TESTBED_READ_LATENCY"
	EnvFail        = "TESTBED_FAIL"
	// EnvNow, an RFC 3339 time, is the provider's clock for
	// testbed_rotating, so that a test can make a rotation expire without
	// waiting for it. Unset, the clock is the real one.
	EnvNow = "TESTBED_NOW"
	// EnvStartupLog names a file the provider binary appends one
	// StartupRecord line to as it starts, for tests of how Terraform
	// connects to providers.
	EnvStartupLog = "TESTBED_STARTUP_LOG"
)

// StartupRecord is one line of the EnvStartupLog file.
type StartupRecord struct {
	// TempDir is where go-plugin creates the provider's Unix socket.
	TempDir string `json:"temp_dir"`
	// TLS says Terraform asked for mutual TLS (PLUGIN_CLIENT_CERT set).
	TLS bool `json:"tls"`
}

// Values of the fail knob (provider attribute `fail` or TESTBED_FAIL).
const (
	FailConfigure = "configure"
	FailRead      = "read"
)

// FailSummary is the summary of the diagnostic returned by a simulated
// failure.
const FailSummary = "testbed: simulated provider failure"

// New returns a constructor for the provider, as providerserver.Serve wants.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &testbedProvider{version: version} }
}

type testbedProvider struct {
	version string
}

var _ provider.Provider = (*testbedProvider)(nil)

type providerModel struct {
	Root        types.String `tfsdk:"root"`
	ReadLatency types.String `tfsdk:"read_latency"`
	Fail        types.String `tfsdk:"fail"`
}

// client is what Configure hands to resources.
type client struct {
	store       store
	readLatency time.Duration
	failRead    bool
	now         func() time.Time
}

func (p *testbedProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = TypeName
	resp.Version = p.version
}

func (p *testbedProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Manages objects stored as JSON files in a local directory.",
		Attributes: map[string]schema.Attribute{
			"root": schema.StringAttribute{
				Optional:    true,
				Description: "Directory holding the objects. Defaults to $" + EnvRoot + ".",
			},
			"read_latency": schema.StringAttribute{
				Optional:    true,
				Description: "Go duration slept in every read, to model slow APIs. Defaults to $" + EnvReadLatency + ".",
			},
			"fail": schema.StringAttribute{
				Optional:    true,
				Description: `Simulated failure: "configure" or "read". Defaults to $` + EnvFail + ".",
			},
		},
	}
}

func (p *testbedProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if cfg.Root.IsUnknown() || cfg.ReadLatency.IsUnknown() || cfg.Fail.IsUnknown() {
		resp.Diagnostics.AddError("testbed: unknown provider configuration",
			"root, read_latency and fail must be known during plan.")
		return
	}
	root := valueOrEnv(cfg.Root, EnvRoot)
	latency := valueOrEnv(cfg.ReadLatency, EnvReadLatency)
	fail := valueOrEnv(cfg.Fail, EnvFail)

	switch fail {
	case "", FailRead:
	case FailConfigure:
		resp.Diagnostics.AddError(FailSummary, "Configure fails because fail (or "+EnvFail+") is \"configure\".")
		return
	default:
		resp.Diagnostics.AddError("testbed: invalid fail value",
			fmt.Sprintf("fail must be %q or %q, got %q.", FailConfigure, FailRead, fail))
		return
	}
	if root == "" {
		resp.Diagnostics.AddError("testbed: no object root",
			"Set the provider's root attribute or the "+EnvRoot+" environment variable.")
		return
	}
	c := &client{store: store{root: root}, failRead: fail == FailRead, now: time.Now}
	if v := os.Getenv(EnvNow); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			resp.Diagnostics.AddError("testbed: invalid "+EnvNow, fmt.Sprintf("%s must be an RFC 3339 time such as \"2026-01-02T15:04:05Z\", got %q.", EnvNow, v))
			return
		}
		c.now = func() time.Time { return t }
	}
	if latency != "" {
		d, err := time.ParseDuration(latency)
		if err != nil || d < 0 {
			resp.Diagnostics.AddError("testbed: invalid read_latency",
				fmt.Sprintf("read_latency must be a non-negative Go duration such as \"250ms\", got %q.", latency))
			return
		}
		c.readLatency = d
	}
	resp.ResourceData = c
	resp.DataSourceData = c
}

func valueOrEnv(v types.String, env string) string {
	if !v.IsNull() {
		return v.ValueString()
	}
	return os.Getenv(env)
}

func (p *testbedProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{newObjectResource, newTriggerResource, newRotatingResource}
}

func (p *testbedProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{newObjectDataSource}
}
