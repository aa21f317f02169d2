package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const secretsSeed = `version: 1
defaults:
  env:
    SHARED: L1T-shared-env
workspaces:
  - name: app
    dir: .
    timeout: fast
    env: {AWS_SECRET_ACCESS_KEY: L1T-aws-secret, BAD: [L1T-in-a-list], PART: "L1T-part-${UNSET_PART}"}
    backend_config:
      conn_str: "postgres://u:L1T-pw@db/tf"
      password: ${DB_PASSWORD}
      token: !!int L1T-not-an-int
reporters:
  github: {repository: "${REPO}", token_env: GH_TOKEN, labels: []}
  slack: {webhook_url_env: SLACK_URL, channel: "#x"}
  webhooks:
    - {url_env: HOOK_URL, secret_env: HOOK_SECRET, timeout: soon}
    - {url: "not a url ${HOOK2}"}
server:
  trigger_token_env: UNSET_TRIGGER
  listen: "${LISTEN}"
`

// FuzzParseSecrets: whatever the YAML, no error shows a value read from
// the environment (every variable here holds a recognisable secret) unless
// the file itself wrote ${NAME} where plain configuration goes, and none
// shows a value written under env or backend_config (values that
// hold credentials), unless the same text also stands somewhere else.
func FuzzParseSecrets(f *testing.F) {
	f.Add([]byte(secretsSeed))
	seeds, err := filepath.Glob("testdata/conf.*.yml")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range append(seeds, "../../workspaces.example.yaml") {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env := func(name string) (string, bool) {
			if strings.HasPrefix(name, "UNSET") {
				return "", false
			}
			return "S3CRET" + name + "Z", true
		}
		_, err := Parse("testdata/fuzz.yml", data, env)
		if err == nil {
			return
		}
		msg := err.Error()
		for rest := msg; ; {
			i := strings.Index(rest, "S3CRET")
			if i < 0 {
				break
			}
			rest = rest[i+len("S3CRET"):]
			name, _, ok := strings.Cut(rest, "Z")
			if ok && !strings.Contains(string(data), "${"+name+"}") {
				t.Fatalf("the value of environment variable %s leaked:\n%s", name, msg)
			}
		}
		for _, lit := range credentialLiterals(data) {
			if strings.Contains(msg, lit) {
				t.Fatalf("a value written under env or backend_config leaked (%q):\n%s", lit, msg)
			}
		}
	})
}

// credentialLiterals lists the scalar values (containing "L1T", to tell them
// from words of an error message) written under an env or backend_config
// mapping and nowhere else in data, as yaml.v3 reads it.
func credentialLiterals(data []byte) []string {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return nil
	}
	secret := map[string]bool{}
	var other []string
	// An anchor may hold an alias to itself (yaml.v3 builds the cycle):
	// each anchored node is walked through its aliases once.
	aliased := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node, underCredentials bool)
	walk = func(n *yaml.Node, underCredentials bool) {
		switch n.Kind {
		case yaml.ScalarNode:
			if underCredentials && strings.Contains(n.Value, "L1T") {
				secret[n.Value] = true
			} else {
				other = append(other, n.Value)
			}
		case yaml.AliasNode:
			// The anchored value stands here too: not only a credential.
			if n.Alias != nil && !aliased[n.Alias] {
				aliased[n.Alias] = true
				walk(n.Alias, false)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				walk(k, false)
				if (k.Value == "env" || k.Value == "backend_config") && v.Kind == yaml.MappingNode {
					for j := 0; j+1 < len(v.Content); j += 2 {
						walk(v.Content[j], false)
						walk(v.Content[j+1], true)
					}
					continue
				}
				walk(v, false)
			}
		default:
			for _, c := range n.Content {
				walk(c, false)
			}
		}
	}
	walk(&doc, false)
	var out []string
	for lit := range secret {
		shared := false
		for _, o := range other {
			if strings.Contains(o, lit) {
				shared = true
				break
			}
		}
		if !shared {
			out = append(out, lit)
		}
	}
	return out
}
