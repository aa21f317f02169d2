package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, and that every failure
// is a non-empty Errors whose entries name the file. Seeds: every
// testdata/conf.*.yml case plus the example file.
func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob("testdata/conf.*.yml")
	if err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, "../../workspaces.example.yaml")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(validConfig))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Relative paths resolve against testdata, a directory that exists.
		cfg, err := Parse("testdata/fuzz.yml", data, testEnv)
		if err == nil {
			if cfg == nil || len(cfg.Workspaces) == 0 {
				t.Fatalf("Parse returned no error and no workspaces: %+v", cfg)
			}
			return
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error is %T %v, want non-empty Errors", err, err)
		}
		for _, e := range errs {
			if !strings.HasPrefix(e.Error(), "testdata/fuzz.yml") || e.Msg == "" {
				t.Fatalf("badly formed error %q", e.Error())
			}
		}
	})
}
