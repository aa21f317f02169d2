package runner

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSensitiveValues(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"main.tf": `
variable "pw" {
  type      = string
  sensitive = true
  default   = "default-pw-1"
}
variable "keys" {
  sensitive = true
  default   = { a = "map-secret-2", b = ["list-secret-3"], n = 4242 }
}
variable "region" {
  default = "eu-west-1"
}
variable "given" {
  sensitive = true
}
variable "from_env" {
  sensitive = true
  type      = map(string)
}
module "db" {
  source   = "./modules/db"
  password = "module-arg-4"
  plain    = "not-secret-5"
}
module "remote" {
  source   = "example/thing/aws"
  password = "remote-arg-6"
}
`,
		"vars.tf.json":           `{"variable": {"token": {"sensitive": true, "default": "json-default-7"}}}`,
		"terraform.tfvars":       `given = "tfvars-value-8"` + "\nregion = \"us-east-1\"\n",
		"extra.auto.tfvars.json": `{"token": "auto-json-9"}`,
		"custom.tfvars":          `pw = "var-file-10"`,
		"modules/db/main.tf":     "variable \"password\" {\n  sensitive = true\n  default = \"module-default-11\"\n}\nvariable \"plain\" {}\n",
		"broken.tf":              "variable \"early\" {\n  sensitive = true\n  default = \"before-error-12\"\n}\nresource \"x\" \"y\" {\n  oops =\n",
		"modules/loop/main.tf":   `module "self" { source = "../loop" }`,
		"loop.tf":                `module "loop" { source = "./modules/loop" }`,
		"not-config.txt":         `variable "x" { sensitive = true, default = "ignored-13" }`,
	})
	got := sensitiveValues(dir, []string{"custom.tfvars", filepath.Join(dir, "missing.tfvars")},
		map[string]string{"from_env": `{ k = "env-map-14" }`, "region": "env-plain-15"})
	for _, want := range []string{"default-pw-1", "map-secret-2", "list-secret-3", "4242", "module-arg-4", "json-default-7",
		"tfvars-value-8", "auto-json-9", "var-file-10", "module-default-11", "before-error-12", `{ k = "env-map-14" }`, "env-map-14"} {
		if !slices.Contains(got, want) {
			t.Errorf("%q not found; got %q", want, got)
		}
	}
	for _, not := range []string{"eu-west-1", "us-east-1", "not-secret-5", "remote-arg-6", "ignored-13", "env-plain-15"} {
		if slices.Contains(got, not) {
			t.Errorf("%q is not sensitive, but found", not)
		}
	}
}

func TestWithSensitive(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"main.tf": "variable \"pw\" {\n  sensitive = true\n  default = \"quo\\\"ted-secret\"\n}\n"})
	got := withSensitive([]string{"short", "a-longer-env-value"}, dir, nil, nil)
	want := []string{"a-longer-env-value", `quo\"ted-secret`, `quo"ted-secret`, "short"}
	if !slices.Equal(got, want) {
		t.Errorf("withSensitive = %q, want %q", got, want)
	}
	if d := diagnostics("Error: bad value\n\ngot \"quo\\\"ted-secret\" here", got); d != `Error: bad value

got "(sensitive value)" here` {
		t.Errorf("diagnostics = %q", d)
	}
}
