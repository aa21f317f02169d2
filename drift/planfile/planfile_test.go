package planfile_test

import (
	"archive/zip"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/planfile"
	"github.com/driftd/driftd/internal/testbed"
)

// baseTF is a workspace's code; %[1]s is the workspace name, which keeps
// object names apart (the testbed keeps all objects in one directory).
const baseTF = `
resource "testbed_object" "a" {
  name    = "%[1]s-a"
  content = "v1"
  secret  = "s3cr3t-value"
  tags    = { env = "dev" }
  rule {
    port     = 443
    protocol = "tcp"
  }
}

resource "testbed_object" "b" {
  name = "%[1]s-b"
}

output "a_content" {
  value = testbed_object.a.content
}

output "a_secret" {
  value     = testbed_object.a.secret
  sensitive = true
}
`

// TestSummarizeRealPlans checks Summarize against terraform's own reading:
// a plan it calls clean must give an empty report through `terraform show
// -json` and drift.Analyze, and the cases that have something to report must
// not be called clean.
func TestSummarizeRealPlans(t *testing.T) {
	env := testbed.New(t)
	tests := []struct {
		name        string
		refreshOnly bool
		setup       func(t *testing.T, ws *testbed.Workspace)
		wantClean   bool
	}{
		{name: "clean", wantClean: true},
		{name: "clean refresh-only", refreshOnly: true, wantClean: true},
		{name: "in-place drift", setup: func(t *testing.T, ws *testbed.Workspace) {
			setAttr(t, env, ws.Name+"-a", "content", "changed by hand")
		}},
		{name: "drift of a secret, refresh-only", refreshOnly: true, setup: func(t *testing.T, ws *testbed.Workspace) {
			setAttr(t, env, ws.Name+"-a", "secret", "rotated-by-hand")
		}},
		{name: "deleted outside terraform", setup: func(t *testing.T, ws *testbed.Workspace) {
			if err := env.DeleteObject(ws.Name + "-b"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "pending change", setup: func(t *testing.T, ws *testbed.Workspace) {
			setTF(t, ws, `resource "testbed_object" "c" { name = "c" }`)
		}},
		{name: "output change only", setup: func(t *testing.T, ws *testbed.Workspace) {
			setTF(t, ws, `output "extra" { value = "new" }`)
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "ws" + string(rune('a'+i))
			ws := env.Workspace(t, name, fmt.Sprintf(baseTF, name))
			if tt.setup != nil {
				tt.setup(t, ws)
			}
			args := []string{"plan", "-input=false", "-no-color", "-lock=false", "-out=tfplan"}
			if tt.refreshOnly {
				args = append(args, "-refresh-only")
			}
			if _, err := ws.Run(t.Context(), args...); err != nil {
				t.Fatal(err)
			}
			got, err := planfile.Summarize(filepath.Join(ws.Dir, "tfplan"))
			if err != nil {
				t.Fatal(err)
			}
			out, err := ws.Run(t.Context(), "show", "-json", "tfplan")
			if err != nil {
				t.Fatal(err)
			}
			var p tfjson.Plan
			if err := json.Unmarshal(out, &p); err != nil {
				t.Fatal(err)
			}
			if got.TerraformVersion != p.TerraformVersion {
				t.Errorf("TerraformVersion = %q, show -json says %q", got.TerraformVersion, p.TerraformVersion)
			}
			if got.Clean != tt.wantClean {
				t.Errorf("Clean = %v, want %v", got.Clean, tt.wantClean)
			}
			r := drift.Analyze(&p, drift.Options{Workspace: name, RefreshOnly: tt.refreshOnly})
			if empty := len(r.Drift) == 0 && len(r.Pending) == 0 && len(r.Outputs) == 0; got.Clean && !empty {
				t.Errorf("Summarize says clean, Analyze reports %d drift, %d pending, %d outputs", len(r.Drift), len(r.Pending), len(r.Outputs))
			}
		})
	}
}

func setAttr(t *testing.T, env *testbed.Env, id, attr string, v any) {
	t.Helper()
	if err := env.SetAttribute(id, attr, v); err != nil {
		t.Fatal(err)
	}
}

func setTF(t *testing.T, ws *testbed.Workspace, extra string) {
	t.Helper()
	main, err := os.ReadFile(filepath.Join(ws.Dir, "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.SetMainTF(string(main) + "\n" + extra + "\n"); err != nil {
		t.Fatal(err)
	}
}

// Hand-built plans: field numbers from Terraform's planfile.proto.
func msg(fields ...[]byte) []byte {
	var b []byte
	for _, f := range fields {
		b = append(b, f...)
	}
	return b
}

func varint(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
}

func bytesField(num protowire.Number, v []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
}

func resourceChange(action uint64) []byte {
	return bytesField(3, msg(bytesField(13, []byte("testbed_object.a")), bytesField(9, msg(varint(1, action)))))
}

func writePlan(t *testing.T, name string, body []byte) string {
	t.Helper()
	return writeEntries(t, entry{name, body})
}

type entry struct {
	name string
	body []byte
}

func writeEntries(t *testing.T, entries ...entry) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tfplan")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		if err == nil {
			_, err = w.Write(e.body)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	err = zw.Close()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func writePlainFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tfplan")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSummarize(t *testing.T) {
	version := varint(1, 3)
	tfVersion := bytesField(14, []byte("1.11.4"))
	tests := []struct {
		name      string
		entry     string
		body      []byte
		wantClean bool
		wantErr   bool
	}{
		{name: "empty plan", body: msg(version, tfVersion), wantClean: true},
		{name: "no-op changes", body: msg(version, resourceChange(0), bytesField(4, msg(bytesField(1, []byte("o")))), tfVersion), wantClean: true},
		{name: "an update", body: msg(version, resourceChange(0), resourceChange(3))},
		{name: "a data source read", body: msg(version, resourceChange(2))},
		{name: "an output change", body: msg(version, bytesField(4, msg(bytesField(1, []byte("o")), bytesField(2, msg(varint(1, 1))))))},
		{name: "drift", body: msg(version, bytesField(18, resourceChange(3)[2:]))},
		{name: "deferred change", body: msg(version, bytesField(27, nil))},
		{name: "errored", body: msg(version, varint(20, 1))},
		{name: "unknown fields are ignored", body: msg(version, varint(99, 7), bytesField(98, []byte("x"))), wantClean: true},
		{name: "other format version", body: msg(varint(1, 4)), wantErr: true},
		{name: "no format version", body: msg(tfVersion), wantErr: true},
		{name: "truncated", body: msg(version, resourceChange(0))[:8], wantErr: true},
		{name: "wrong wire type", body: msg(version, varint(3, 1)), wantErr: true},
		{name: "no tfplan entry", entry: "tfstate", body: msg(version), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entry := tt.entry
			if entry == "" {
				entry = "tfplan"
			}
			got, err := planfile.Summarize(writePlan(t, entry, tt.body))
			if tt.wantErr {
				if !errors.Is(err, planfile.ErrUnknownFormat) {
					t.Fatalf("err = %v, want ErrUnknownFormat", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Clean != tt.wantClean {
				t.Errorf("Clean = %v, want %v", got.Clean, tt.wantClean)
			}
			if (got.Key == "") != got.Clean {
				t.Errorf("Key = %q with Clean = %v: want a key exactly when not clean", got.Key, got.Clean)
			}
		})
	}
}

func TestSummarizeNotAZip(t *testing.T) {
	p := writePlainFile(t, "not a plan")
	if _, err := planfile.Summarize(p); !errors.Is(err, planfile.ErrUnknownFormat) {
		t.Fatalf("err = %v, want ErrUnknownFormat", err)
	}
}

// TestKeyRealPlans: two plans of the same workspace a second apart (so
// their timestamps differ) share a key; drift gives another.
func TestKeyRealPlans(t *testing.T) {
	env := testbed.New(t)
	ws := env.Workspace(t, "key", fmt.Sprintf(baseTF, "key"))
	setAttr(t, env, "key-a", "content", "changed by hand")
	key := func(name string) string {
		t.Helper()
		if _, err := ws.Run(t.Context(), "plan", "-input=false", "-no-color", "-lock=false", "-out="+name); err != nil {
			t.Fatal(err)
		}
		k, err := planKey(filepath.Join(ws.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	first := key("first.tfplan")
	time.Sleep(1100 * time.Millisecond)
	if again := key("again.tfplan"); again != first {
		t.Errorf("same plan a second later: key %s, first %s", again, first)
	}
	setAttr(t, env, "key-a", "content", "changed again")
	if other := key("other.tfplan"); other == first {
		t.Errorf("plan of other drift has the first plan's key %s", first)
	}
}

func TestKey(t *testing.T) {
	t.Run("repeated fields in another order", func(t *testing.T) {
		a := msg(varint(1, 3), resourceChange(3), resourceChange(2))
		b := msg(resourceChange(2), varint(1, 3), resourceChange(3))
		ka, err1 := planKey(writeEntries(t, entry{"tfplan", a}))
		kb, err2 := planKey(writeEntries(t, entry{"tfplan", b}))
		if err1 != nil || err2 != nil || ka != kb {
			t.Errorf("keys %s, %s (errors %v, %v): want equal", ka, kb, err1, err2)
		}
	})
	base := msg(varint(1, 3), resourceChange(3), bytesField(14, []byte("1.11.4")))
	stamped := func(ts string) []byte { return msg(base, bytesField(21, []byte(ts))) }
	plan := func(body []byte, state string) []entry {
		return []entry{{"tfplan", body}, {"tfstate", []byte(state)}, {"tfconfig/main.tf", []byte(`resource "x" "y" {}`)}}
	}
	ref := plan(stamped("2026-11-23T16:28:07Z"), `{"serial": 1}`)
	tests := []struct {
		name    string
		entries []entry
		same    bool
	}{
		{"another timestamp", plan(stamped("2026-11-24T09:00:00Z"), `{"serial": 1}`), true},
		{"entries in another order", []entry{ref[2], ref[0], ref[1]}, true},
		{"no timestamp", plan(base, `{"serial": 1}`), true},
		{"another state", plan(stamped("2026-11-23T16:28:07Z"), `{"serial": 2}`), false},
		{"another plan field", plan(msg(stamped("2026-11-23T16:28:07Z"), varint(26, 1)), `{"serial": 1}`), false},
		{"an entry more", append(plan(stamped("2026-11-23T16:28:07Z"), `{"serial": 1}`), entry{"tfstate-prev", nil}), false},
		{"content moved between entries", []entry{ref[0], {"tfstate", nil}, {"tfconfig/main.tf", append([]byte(`{"serial": 1}`), ref[2].body...)}}, false},
	}
	want, err := planKey(writeEntries(t, ref...))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := planKey(writeEntries(t, tt.entries...))
			if err != nil {
				t.Fatal(err)
			}
			if (got == want) != tt.same {
				t.Errorf("key %s, reference %s: same = %v, want %v", got, want, got == want, tt.same)
			}
		})
	}
	for name, path := range map[string]string{
		"no tfplan":    writeEntries(t, entry{"tfstate", nil}),
		"bad protobuf": writeEntries(t, entry{"tfplan", base[:5]}),
		"twice tfplan": writeEntries(t, entry{"tfplan", base}, entry{"tfplan", base}),
		"not a zip":    writePlainFile(t, "not a plan"),
	} {
		if _, err := planKey(path); !errors.Is(err, planfile.ErrUnknownFormat) {
			t.Errorf("%s: err = %v, want ErrUnknownFormat", name, err)
		}
	}
}

// planKey is Summarize's Key for the plan file at path.
func planKey(path string) (string, error) {
	s, err := planfile.Summarize(path)
	return s.Key, err
}
