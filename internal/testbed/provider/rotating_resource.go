package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// rotatingResource behaves as hashicorp/time's time_rotating: a timestamp
// kept in the state that expires rotation_minutes after it was taken. Once
// the provider's clock (EnvNow) has passed rotation_rfc3339, a refresh
// removes it from the state, and a plan without refresh replaces it; either
// way the next apply takes a new timestamp. Nothing outside the state
// changes.
type rotatingResource struct {
	client *client
}

var (
	_ resource.ResourceWithConfigure  = (*rotatingResource)(nil)
	_ resource.ResourceWithModifyPlan = (*rotatingResource)(nil)
)

func newRotatingResource() resource.Resource { return &rotatingResource{} }

type rotatingModel struct {
	ID              types.String `tfsdk:"id"`
	RFC3339         types.String `tfsdk:"rfc3339"`
	RotationRFC3339 types.String `tfsdk:"rotation_rfc3339"`
	RotationMinutes types.Int64  `tfsdk:"rotation_minutes"`
	Triggers        types.Map    `tfsdk:"triggers"`
}

func (r *rotatingResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_rotating"
}

func (r *rotatingResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{
			Computed:      true,
			Description:   desc,
			PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
		}
	}
	resp.Schema = schema.Schema{
		Description: "A timestamp that expires, as time_rotating: replaced once the provider's clock passes rotation_rfc3339.",
		Attributes: map[string]schema.Attribute{
			"id":               computed("The timestamp, RFC 3339."),
			"rfc3339":          computed("When the object was created, RFC 3339."),
			"rotation_rfc3339": computed("When the object expires, RFC 3339."),
			"rotation_minutes": schema.Int64Attribute{
				Required:      true,
				PlanModifiers: []planmodifier.Int64{int64planmodifier.RequiresReplace()},
			},
			"triggers": schema.MapAttribute{
				Optional:      true,
				ElementType:   types.StringType,
				PlanModifiers: []planmodifier.Map{mapplanmodifier.RequiresReplace()},
			},
		},
	}
}

func (r *rotatingResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if req.ProviderData == nil {
		return // validation runs before the provider is configured
	}
	c, ok := req.ProviderData.(*client)
	if !ok {
		resp.Diagnostics.AddError("testbed: internal error", fmt.Sprintf("unexpected provider data %T", req.ProviderData))
		return
	}
	r.client = c
}

func (r *rotatingResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m rotatingModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if m.RotationMinutes.ValueInt64() < 1 {
		resp.Diagnostics.AddAttributeError(path.Root("rotation_minutes"), "testbed: invalid rotation_minutes", "rotation_minutes must be at least 1.")
		return
	}
	now := r.client.now().UTC().Truncate(time.Second)
	m.RFC3339 = types.StringValue(now.Format(time.RFC3339))
	m.ID = m.RFC3339
	m.RotationRFC3339 = types.StringValue(now.Add(time.Duration(m.RotationMinutes.ValueInt64()) * time.Minute).Format(time.RFC3339))
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Read removes an expired object from the state, as time_rotating does.
func (r *rotatingResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m rotatingModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	expired, err := r.expired(m.RotationRFC3339)
	if err != nil {
		resp.Diagnostics.AddError("testbed: invalid rotation_rfc3339", err.Error())
		return
	}
	if expired {
		resp.State.RemoveResource(ctx)
	}
}

// ModifyPlan replaces an expired object when the plan did not refresh it.
func (r *rotatingResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() || r.client == nil {
		return
	}
	var m rotatingModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	expired, err := r.expired(m.RotationRFC3339)
	if err != nil {
		resp.Diagnostics.AddError("testbed: invalid rotation_rfc3339", err.Error())
		return
	}
	if !expired {
		return
	}
	for _, attr := range []string{"id", "rfc3339", "rotation_rfc3339"} {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root(attr), types.StringUnknown())...)
	}
	resp.RequiresReplace = append(resp.RequiresReplace, path.Root("rotation_rfc3339"))
}

func (r *rotatingResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m rotatingModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *rotatingResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
}

func (r *rotatingResource) expired(rotation types.String) (bool, error) {
	if rotation.IsNull() || rotation.IsUnknown() {
		return false, nil
	}
	t, err := time.Parse(time.RFC3339, rotation.ValueString())
	if err != nil {
		return false, fmt.Errorf("%q is not an RFC 3339 time: %w", rotation.ValueString(), err)
	}
	return !r.client.now().Before(t), nil
}
