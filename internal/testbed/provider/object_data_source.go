package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// objectDataSource reads an object by name, whoever manages it.
type objectDataSource struct {
	client *client
}

var _ datasource.DataSourceWithConfigure = (*objectDataSource)(nil)

func newObjectDataSource() datasource.DataSource { return &objectDataSource{} }

func (d *objectDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_object"
}

func (d *objectDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Reads the object stored as <root>/<name>.json.",
		Attributes: map[string]schema.Attribute{
			"name":       schema.StringAttribute{Required: true},
			"id":         schema.StringAttribute{Computed: true},
			"generation": schema.Int64Attribute{Computed: true},
			"content":    schema.StringAttribute{Computed: true},
			"secret":     schema.StringAttribute{Computed: true, Sensitive: true},
			"tags":       schema.MapAttribute{Computed: true, ElementType: types.StringType},
			"ports":      schema.ListAttribute{Computed: true, ElementType: types.Int64Type},
			"enabled":    schema.BoolAttribute{Computed: true},
			// Blocks cannot be computed: the resource's rule blocks read back
			// as a list attribute of the same shape.
			"rule": schema.ListNestedAttribute{
				Computed: true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"port":        schema.Int64Attribute{Computed: true},
					"protocol":    schema.StringAttribute{Computed: true},
					"cidr_blocks": schema.ListAttribute{Computed: true, ElementType: types.StringType},
				}},
			},
			"settings": schema.SingleNestedAttribute{
				Computed: true,
				Attributes: map[string]schema.Attribute{
					"tier":     schema.StringAttribute{Computed: true},
					"password": schema.StringAttribute{Computed: true, Sensitive: true},
				},
			},
		},
	}
}

func (d *objectDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	if req.ProviderData == nil {
		return // validation runs before the provider is configured
	}
	c, ok := req.ProviderData.(*client)
	if !ok {
		resp.Diagnostics.AddError("testbed: internal error", fmt.Sprintf("unexpected provider data %T", req.ProviderData))
		return
	}
	d.client = c
}

func (d *objectDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg objectModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if d.client.simulateRead(ctx, &resp.Diagnostics); resp.Diagnostics.HasError() {
		return
	}
	name := cfg.Name.ValueString()
	o, err := d.client.store.get(name)
	if errors.Is(err, errNotFound) {
		resp.Diagnostics.AddError("testbed: object not found", fmt.Sprintf("No object named %q.", name))
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("testbed: read failed", err.Error())
		return
	}
	m, diags := fromStored(ctx, o)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// simulateRead applies the read_latency and fail knobs, shared by every
// read so that data sources model the same slow or broken API.
func (c *client) simulateRead(ctx context.Context, diags *diag.Diagnostics) {
	if c.readLatency > 0 {
		t := time.NewTimer(c.readLatency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			diags.AddError("testbed: read cancelled", ctx.Err().Error())
			return
		}
	}
	if c.failRead {
		diags.AddError(FailSummary, "Read fails because fail (or "+EnvFail+") is \"read\".")
	}
}
