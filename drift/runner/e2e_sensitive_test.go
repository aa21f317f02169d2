package runner

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftd/driftd/internal/testbed"
)

// echoTF hands a sensitive variable to the testbed provider's fail
// attribute, which rejects it with a diagnostic quoting the value: a
// provider echoing a secret Terraform cannot see in its message.
const echoTF = `
variable "pw" {
  type      = string
  sensitive = true
  default   = "default-echo-Zq81"
}

provider "testbed" {
  fail = var.pw
}

resource "testbed_object" "x" {
  name = "echo"
}
`

// TestSensitiveValueEchoedInDiagnostics: a failed plan has no JSON plan
// to say what is sensitive, and the provider's diagnostic held the
// variable's value, default or given (var files, vars), verbatim.
func TestSensitiveValueEchoedInDiagnostics(t *testing.T) {
	t.Parallel()
	env := testbed.New(t)
	ws, err := env.NewWorkspace("echo", echoTF)
	if err != nil {
		t.Fatal(err)
	}
	r := testbedRunner(t, env, Options{})
	for _, tt := range []struct {
		name, secret string
		files        map[string]string
		varFiles     []string
		vars         map[string]string
	}{
		{name: "default", secret: "default-echo-Zq81"},
		{name: "terraform.tfvars", secret: "tfvars-echo-Wx93", files: map[string]string{"terraform.tfvars": `pw = "tfvars-echo-Wx93"`}},
		{name: "var file", secret: "varfile-echo-Pq72", files: map[string]string{"secret.tfvars": `pw = "varfile-echo-Pq72"`}, varFiles: []string{"secret.tfvars"}},
		{name: "vars", secret: "vars-echo-Kd44", vars: map[string]string{"pw": "vars-echo-Kd44"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			writeFiles(t, ws.Dir, tt.files)
			defer func() {
				for name := range tt.files {
					os.Remove(filepath.Join(ws.Dir, name))
				}
			}()
			spec := testbedSpec(ws)
			spec.VarFiles, spec.Vars = tt.varFiles, tt.vars
			_, err := r.Plan(t.Context(), spec)
			var e *Error
			if !errors.As(err, &e) || e.Stage != StagePlan {
				t.Fatalf("err = %v, want a plan *Error", err)
			}
			if strings.Contains(err.Error(), tt.secret) {
				t.Fatalf("the sensitive value reached the error:\n%s", err)
			}
			if want := `got "(sensitive value)"`; !strings.Contains(e.Diagnostics, want) {
				t.Errorf("diagnostics lack %s (did the provider echo the value?):\n%s", want, e.Diagnostics)
			}
		})
	}
}
