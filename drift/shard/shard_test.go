package shard

import (
	"fmt"
	"strings"
	"testing"
)

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	return out
}

// realistic are workspace names as teams write them: shared prefixes and
// suffixes, which a weak hash would bunch together.
func realistic() []string {
	var out []string
	for _, env := range []string{"prod", "staging", "dev", "qa", "sandbox"} {
		for _, region := range []string{"eu-west-1", "us-east-1", "ap-south-1", "us-west-2"} {
			for i := range 50 {
				out = append(out, fmt.Sprintf("%s.%s.team-%d", env, region, i))
			}
		}
	}
	return out
}

func assign(ns []string, n int) map[string]int {
	m := make(map[string]int, len(ns))
	for _, name := range ns {
		m[name] = Of(name, n)
	}
	return m
}

// TestDisjointCompleteBalanced: 1,000 names over 8 shards: each name is
// owned by exactly one shard, and every shard holds within 20 % of 125.
func TestDisjointCompleteBalanced(t *testing.T) {
	for _, set := range []struct {
		name  string
		names []string
	}{{"numbered", names("ws", 1000)}, {"realistic", realistic()}} {
		t.Run(set.name, func(t *testing.T) {
			const n = 8
			per := make([]int, n)
			for _, name := range set.names {
				owners := 0
				for i := range n {
					if (Shard{Index: i, Count: n}).Owns(name) {
						owners++
						per[i]++
					}
				}
				if owners != 1 {
					t.Fatalf("%s owned by %d shards", name, owners)
				}
			}
			want := float64(len(set.names)) / n
			for i, c := range per {
				if dev := (float64(c) - want) / want; dev > 0.2 || dev < -0.2 {
					t.Errorf("shard %d/%d holds %d names, want %.0f ± 20%% (all: %v)", i, n, c, want, per)
				}
			}
		})
	}
}

// TestMinimalMovement: adding names moves no other; adding a shard moves
// names only to the new shard, about 1/(N+1) of them; removing the last
// shard moves only its own names.
func TestMinimalMovement(t *testing.T) {
	all := names("ws", 1100)
	before := assign(all[:1000], 8)
	after := assign(all, 8)
	for name, s := range before {
		if after[name] != s {
			t.Errorf("adding names moved %s from %d to %d", name, s, after[name])
		}
	}

	nine := assign(all[:1000], 9)
	moved := 0
	for name, s := range before {
		if nine[name] != s {
			moved++
			if nine[name] != 8 {
				t.Errorf("going to 9 shards moved %s from %d to %d, not to the new shard 8", name, s, nine[name])
			}
		}
	}
	// Ideal: 1000/9 ≈ 111.
	if moved < 80 || moved > 145 {
		t.Errorf("going from 8 to 9 shards moved %d of 1000 names, want about 111", moved)
	}

	seven := assign(all[:1000], 7)
	for name, s := range before {
		if s != 7 && seven[name] != s {
			t.Errorf("removing shard 7 moved %s from %d to %d", name, s, seven[name])
		}
	}
}

// TestAssignmentIsStable pins a few assignments: processes of different
// driftd versions must agree on who owns what. The weight was checked
// against an independent implementation of FNV-1a and SplitMix64.
func TestAssignmentIsStable(t *testing.T) {
	got := map[string]int{}
	for _, name := range []string{"net", "app", "prod.eu-west-1.team-3", "dns"} {
		got[name] = Of(name, 8)
	}
	want := map[string]int{"net": 7, "app": 1, "prod.eu-west-1.team-3": 1, "dns": 6}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("assignments changed: got %v, want %v", got, want)
	}
	if w := Weight("net", 3); w != 0xc04f0f3077816b85 {
		t.Errorf("Weight(net, 3) = %#x", w)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Shard
		wantErr string
	}{
		{in: "0/1", want: Shard{0, 1}},
		{in: "3/8", want: Shard{3, 8}},
		{in: " 1/2 ", want: Shard{1, 2}},
		{in: "8/8", wantErr: "shard index 8: want 0 to 7 (shards are numbered from 0)"},
		{in: "-1/8", wantErr: "shard index -1"},
		{in: "0/0", wantErr: "shard count 0: want 1 to 1024"},
		{in: "0/5000", wantErr: "shard count 5000"},
		{in: "3", wantErr: `"3": want I/N`},
		{in: "a/b", wantErr: "whole numbers"},
		{in: "1/2/3", wantErr: "whole numbers"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q) error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name    string
		flag    string
		env     map[string]string
		pod     bool
		want    Shard
		from    string
		wantErr string
	}{
		{name: "none", want: Shard{}},
		{name: "hostname alone is not a shard", env: map[string]string{"HOSTNAME": "runner-3"}, pod: true},
		{name: "flag", flag: "1/4", want: Shard{1, 4}, from: "--shard 1/4"},
		{name: "env", env: map[string]string{"DRIFTD_SHARD": "2/4"}, want: Shard{2, 4}, from: "DRIFTD_SHARD=2/4"},
		{name: "empty env is unset", env: map[string]string{"DRIFTD_SHARD": ""}},
		{name: "indexed job", env: map[string]string{"JOB_COMPLETION_INDEX": "3", "DRIFTD_SHARDS": "4"}, want: Shard{3, 4},
			from: "JOB_COMPLETION_INDEX=3 with DRIFTD_SHARDS=4"},
		{name: "flag and env agree", flag: "1/4", env: map[string]string{"DRIFTD_SHARD": "1/4", "JOB_COMPLETION_INDEX": "1", "DRIFTD_SHARDS": "4"}, want: Shard{1, 4}},
		{name: "statefulset pod name", pod: true, env: map[string]string{"POD_NAME": "driftd-2", "HOSTNAME": "other-0", "DRIFTD_SHARDS": "3"},
			want: Shard{2, 3}, from: "POD_NAME=driftd-2 (ordinal 2) with DRIFTD_SHARDS=3"},
		{name: "statefulset hostname", pod: true, env: map[string]string{"HOSTNAME": "driftd-0", "DRIFTD_SHARDS": "3"}, want: Shard{0, 3}},
		{name: "explicit index wins over hostname", pod: true, flag: "1/3", env: map[string]string{"HOSTNAME": "driftd-0", "DRIFTD_SHARDS": "3"}, want: Shard{1, 3}},

		{name: "bad flag", flag: "4/4", wantErr: "--shard shard index 4: want 0 to 3"},
		{name: "bad env", env: map[string]string{"DRIFTD_SHARD": "x"}, wantErr: `DRIFTD_SHARD="x": want I/N`},
		{name: "flag and env disagree", flag: "1/4", env: map[string]string{"DRIFTD_SHARD": "2/4"},
			wantErr: "conflicting shards: --shard 1/4 says 1/4, DRIFTD_SHARD=2/4 says 2/4"},
		{name: "flag and job index disagree", flag: "1/4", env: map[string]string{"JOB_COMPLETION_INDEX": "2", "DRIFTD_SHARDS": "4"},
			wantErr: "conflicting shards"},
		{name: "flag and count disagree", flag: "1/4", env: map[string]string{"DRIFTD_SHARDS": "8"},
			wantErr: "conflicting shard counts: --shard 1/4 says 4 shards, DRIFTD_SHARDS=8"},
		{name: "job index without count", env: map[string]string{"JOB_COMPLETION_INDEX": "2"},
			wantErr: "JOB_COMPLETION_INDEX=2 is set (an Indexed Job) but DRIFTD_SHARDS is not"},
		{name: "job index past count", env: map[string]string{"JOB_COMPLETION_INDEX": "4", "DRIFTD_SHARDS": "4"},
			wantErr: "JOB_COMPLETION_INDEX=4 with DRIFTD_SHARDS=4: shard index 4: want 0 to 3"},
		{name: "job index not a number", env: map[string]string{"JOB_COMPLETION_INDEX": "x", "DRIFTD_SHARDS": "4"}, wantErr: `JOB_COMPLETION_INDEX="x"`},
		{name: "count alone", env: map[string]string{"DRIFTD_SHARDS": "4"}, wantErr: "DRIFTD_SHARDS=4 needs a shard index"},
		{name: "count alone, scan ignores hostname", env: map[string]string{"DRIFTD_SHARDS": "4", "HOSTNAME": "driftd-1"}, wantErr: "needs a shard index"},
		{name: "bad count", env: map[string]string{"DRIFTD_SHARDS": "0", "JOB_COMPLETION_INDEX": "0"}, wantErr: `DRIFTD_SHARDS="0": want a whole number from 1 to 1024`},
		{name: "pod name without ordinal", pod: true, env: map[string]string{"POD_NAME": "driftd-abcde", "DRIFTD_SHARDS": "3"},
			wantErr: `a StatefulSet pod name ending in -<ordinal> in POD_NAME or HOSTNAME (got "driftd-abcde")`},
		{name: "more replicas than shards", pod: true, env: map[string]string{"HOSTNAME": "driftd-3", "DRIFTD_SHARDS": "3"},
			wantErr: "HOSTNAME=driftd-3 (ordinal 3) with DRIFTD_SHARDS=3: shard index 3: want 0 to 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(Sources{Flag: tt.flag, PodOrdinal: tt.pod, Lookup: func(k string) (string, bool) {
				v, ok := tt.env[k]
				return v, ok
			}})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Shard != tt.want || tt.from != "" && got.From != tt.from {
				t.Errorf("got %v from %q, want %v from %q", got.Shard, got.From, tt.want, tt.from)
			}
		})
	}
}

func TestFilter(t *testing.T) {
	all := names("ws", 50)
	var union []string
	for i := range 3 {
		union = append(union, Filter(Shard{i, 3}, all, func(s string) string { return s })...)
	}
	if len(union) != len(all) {
		t.Errorf("3 shards hold %d of %d names", len(union), len(all))
	}
	if got := Filter(Shard{}, all, func(s string) string { return s }); len(got) != len(all) {
		t.Errorf("no sharding holds %d of %d", len(got), len(all))
	}
}
