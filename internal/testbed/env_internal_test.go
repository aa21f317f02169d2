package testbed

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSetPath(t *testing.T) {
	t.Parallel()
	const doc = `{"secret":"a","tags":{"env":"dev"},"rule":[{"port":22,"cidr_blocks":["10.0.0.0/8"]}],"settings":null}`
	tests := []struct {
		path    string
		value   any
		want    string // JSON after the change
		wantErr string
	}{
		{path: "secret", value: "b", want: `{"rule":[{"cidr_blocks":["10.0.0.0/8"],"port":22}],"secret":"b","settings":null,"tags":{"env":"dev"}}`},
		{path: "tags.env", value: "prod", want: `{"rule":[{"cidr_blocks":["10.0.0.0/8"],"port":22}],"secret":"a","settings":null,"tags":{"env":"prod"}}`},
		{path: "tags.new", value: "x", want: `{"rule":[{"cidr_blocks":["10.0.0.0/8"],"port":22}],"secret":"a","settings":null,"tags":{"env":"dev","new":"x"}}`},
		{path: "rule.0.port", value: 2222, want: `{"rule":[{"cidr_blocks":["10.0.0.0/8"],"port":2222}],"secret":"a","settings":null,"tags":{"env":"dev"}}`},
		{path: "rule.0.cidr_blocks.0", value: "0.0.0.0/0", want: `{"rule":[{"cidr_blocks":["0.0.0.0/0"],"port":22}],"secret":"a","settings":null,"tags":{"env":"dev"}}`},
		{path: "tags", value: nil, want: `{"rule":[{"cidr_blocks":["10.0.0.0/8"],"port":22}],"secret":"a","settings":null,"tags":null}`},
		{path: "rule.1.port", value: 1, wantErr: "no index"},
		{path: "rule.x", value: 1, wantErr: "no index"},
		{path: "settings.tier", value: "gold", wantErr: "null or absent"},
		{path: "secret.x", value: 1, wantErr: "not a map or list"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			var o map[string]any
			if err := json.Unmarshal([]byte(doc), &o); err != nil {
				t.Fatal(err)
			}
			err := setPath(o, strings.Split(tt.path, "."), tt.value)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(o)
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
