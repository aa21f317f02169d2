package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
)

type objectResource struct {
	client *client
}

var (
	_ resource.Resource                = (*objectResource)(nil)
	_ resource.ResourceWithConfigure   = (*objectResource)(nil)
	_ resource.ResourceWithImportState = (*objectResource)(nil)
)

func newObjectResource() resource.Resource { return &objectResource{} }

type objectModel struct {
	ID         types.String `tfsdk:"id"`
	Generation types.Int64  `tfsdk:"generation"`
	Name       types.String `tfsdk:"name"`
	Content    types.String `tfsdk:"content"`
	Secret     types.String `tfsdk:"secret"`
	Tags       types.Map    `tfsdk:"tags"`
	Ports      types.List   `tfsdk:"ports"`
	Enabled    types.Bool   `tfsdk:"enabled"`
	Rule       types.List   `tfsdk:"rule"`
	Settings   types.Object `tfsdk:"settings"`
}

type ruleModel struct {
	Port       types.Int64  `tfsdk:"port"`
	Protocol   types.String `tfsdk:"protocol"`
	CIDRBlocks types.List   `tfsdk:"cidr_blocks"`
}

type settingsModel struct {
	Tier     types.String `tfsdk:"tier"`
	Password types.String `tfsdk:"password"`
}

var (
	ruleType = types.ObjectType{AttrTypes: map[string]attr.Type{
		"port":        types.Int64Type,
		"protocol":    types.StringType,
		"cidr_blocks": types.ListType{ElemType: types.StringType},
	}}
	settingsAttrTypes = map[string]attr.Type{
		"tier":     types.StringType,
		"password": types.StringType,
	}
)

func (r *objectResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_object"
}

func (r *objectResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "An object stored as <root>/<name>.json. The id is the name.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"generation": schema.Int64Attribute{
				Computed:      true,
				Description:   "Changes when the object is recreated outside Terraform; a mismatch with state reads as a deletion.",
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"content": schema.StringAttribute{Optional: true},
			"secret":  schema.StringAttribute{Optional: true, Sensitive: true},
			"tags":    schema.MapAttribute{Optional: true, ElementType: types.StringType},
			"ports":   schema.ListAttribute{Optional: true, ElementType: types.Int64Type},
			"enabled": schema.BoolAttribute{Optional: true},
			"settings": schema.SingleNestedAttribute{
				Optional: true,
				Attributes: map[string]schema.Attribute{
					"tier":     schema.StringAttribute{Optional: true},
					"password": schema.StringAttribute{Optional: true, Sensitive: true},
				},
			},
		},
		Blocks: map[string]schema.Block{
			"rule": schema.ListNestedBlock{
				NestedObject: schema.NestedBlockObject{
					Attributes: map[string]schema.Attribute{
						"port":        schema.Int64Attribute{Optional: true},
						"protocol":    schema.StringAttribute{Optional: true},
						"cidr_blocks": schema.ListAttribute{Optional: true, ElementType: types.StringType},
					},
				},
			},
		},
	}
}

func (r *objectResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
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

func (r *objectResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan objectModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := plan.Name.ValueString()
	if !ValidID(id) {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "testbed: invalid name",
			fmt.Sprintf("%q cannot name an object: use letters, digits, '.', '_' or '-', starting with a letter or digit.", id))
		return
	}
	// Like a real API, refuse to silently take over an existing object.
	if _, err := r.client.store.get(id); err == nil {
		resp.Diagnostics.AddError("testbed: object already exists",
			fmt.Sprintf("An object named %q already exists; import it or choose another name.", id))
		return
	} else if !errors.Is(err, errNotFound) {
		resp.Diagnostics.AddError("testbed: create failed", err.Error())
		return
	}
	plan.ID = types.StringValue(id)
	plan.Generation = types.Int64Value(1)
	r.write(ctx, &plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *objectResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state objectModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if r.client.simulateRead(ctx, &resp.Diagnostics); resp.Diagnostics.HasError() {
		return
	}
	o, err := r.client.store.get(state.ID.ValueString())
	if errors.Is(err, errNotFound) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("testbed: read failed", err.Error())
		return
	}
	// A new generation means someone deleted and recreated the object
	// outside Terraform: report it gone, as providers keyed by a unique
	// cloud id do. Generation is null right after an import.
	if !state.Generation.IsNull() && !state.Generation.IsUnknown() && o.Generation != state.Generation.ValueInt64() {
		resp.State.RemoveResource(ctx)
		return
	}
	m, diags := fromStored(ctx, o)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *objectResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state objectModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.ID = state.ID
	plan.Generation = state.Generation
	r.write(ctx, &plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *objectResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state objectModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.client.store.delete(state.ID.ValueString()); err != nil {
		resp.Diagnostics.AddError("testbed: delete failed", err.Error())
	}
}

func (r *objectResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}

func (r *objectResource) write(ctx context.Context, m *objectModel, diags *diag.Diagnostics) {
	o, d := toStored(ctx, m)
	diags.Append(d...)
	if diags.HasError() {
		return
	}
	if err := r.client.store.put(o); err != nil {
		diags.AddError("testbed: write failed", err.Error())
	}
}

func toStored(ctx context.Context, m *objectModel) (*storedObject, diag.Diagnostics) {
	var diags diag.Diagnostics
	o := &storedObject{
		ID:         m.ID.ValueString(),
		Generation: m.Generation.ValueInt64(),
		Name:       m.Name.ValueString(),
		Content:    m.Content.ValueStringPointer(),
		Secret:     m.Secret.ValueStringPointer(),
		Enabled:    m.Enabled.ValueBoolPointer(),
		Rule:       []storedRule{},
	}
	if !m.Tags.IsNull() {
		o.Tags = map[string]string{}
		diags.Append(m.Tags.ElementsAs(ctx, &o.Tags, false)...)
	}
	if !m.Ports.IsNull() {
		o.Ports = []int64{}
		diags.Append(m.Ports.ElementsAs(ctx, &o.Ports, false)...)
	}
	var rules []ruleModel
	diags.Append(m.Rule.ElementsAs(ctx, &rules, false)...)
	for _, rm := range rules {
		sr := storedRule{Port: rm.Port.ValueInt64Pointer(), Protocol: rm.Protocol.ValueStringPointer()}
		if !rm.CIDRBlocks.IsNull() {
			sr.CIDRBlocks = []string{}
			diags.Append(rm.CIDRBlocks.ElementsAs(ctx, &sr.CIDRBlocks, false)...)
		}
		o.Rule = append(o.Rule, sr)
	}
	if !m.Settings.IsNull() {
		var s settingsModel
		diags.Append(m.Settings.As(ctx, &s, basetypes.ObjectAsOptions{})...)
		o.Settings = &storedSettings{Tier: s.Tier.ValueStringPointer(), Password: s.Password.ValueStringPointer()}
	}
	return o, diags
}

func fromStored(ctx context.Context, o *storedObject) (objectModel, diag.Diagnostics) {
	var diags, d diag.Diagnostics
	m := objectModel{
		ID:         types.StringValue(o.ID),
		Generation: types.Int64Value(o.Generation),
		Name:       types.StringValue(o.Name),
		Content:    types.StringPointerValue(o.Content),
		Secret:     types.StringPointerValue(o.Secret),
		Enabled:    types.BoolPointerValue(o.Enabled),
		Tags:       types.MapNull(types.StringType),
		Ports:      types.ListNull(types.Int64Type),
		Settings:   types.ObjectNull(settingsAttrTypes),
	}
	if o.Tags != nil {
		m.Tags, d = types.MapValueFrom(ctx, types.StringType, o.Tags)
		diags.Append(d...)
	}
	if o.Ports != nil {
		m.Ports, d = types.ListValueFrom(ctx, types.Int64Type, o.Ports)
		diags.Append(d...)
	}
	// Blocks are never null in Terraform: no rule blocks is an empty list.
	rules := make([]ruleModel, 0, len(o.Rule))
	for _, sr := range o.Rule {
		rm := ruleModel{
			Port:       types.Int64PointerValue(sr.Port),
			Protocol:   types.StringPointerValue(sr.Protocol),
			CIDRBlocks: types.ListNull(types.StringType),
		}
		if sr.CIDRBlocks != nil {
			rm.CIDRBlocks, d = types.ListValueFrom(ctx, types.StringType, sr.CIDRBlocks)
			diags.Append(d...)
		}
		rules = append(rules, rm)
	}
	m.Rule, d = types.ListValueFrom(ctx, ruleType, rules)
	diags.Append(d...)
	if o.Settings != nil {
		m.Settings, d = types.ObjectValueFrom(ctx, settingsAttrTypes, settingsModel{
			Tier:     types.StringPointerValue(o.Settings.Tier),
			Password: types.StringPointerValue(o.Settings.Password),
		})
		diags.Append(d...)
	}
	return m, diags
}
