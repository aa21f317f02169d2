package server_test

import (
	"io"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/driftd/driftd/internal/server"
)

// voidElements never have an end tag.
var voidElements = map[atom.Atom]bool{
	atom.Area: true, atom.Base: true, atom.Br: true, atom.Col: true, atom.Embed: true,
	atom.Hr: true, atom.Img: true, atom.Input: true, atom.Link: true, atom.Meta: true,
	atom.Source: true, atom.Track: true, atom.Wbr: true,
}

// checkWellFormed tokenizes the page and fails on anything a browser would
// have to repair: an end tag that does not close the innermost open element,
// an element left open, a duplicate id.
func checkWellFormed(t *testing.T, page string) {
	t.Helper()
	z := html.NewTokenizer(strings.NewReader(page))
	var stack []string
	ids := map[string]bool{}
	sawDoctype := false
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				t.Fatalf("tokenize: %v", z.Err())
			}
			if len(stack) > 0 {
				t.Errorf("elements left open: %v", stack)
			}
			if !sawDoctype {
				t.Error("no doctype")
			}
			return
		case html.DoctypeToken:
			sawDoctype = true
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			for _, a := range tok.Attr {
				if a.Key == "id" {
					if ids[a.Val] {
						t.Errorf("duplicate id %q", a.Val)
					}
					ids[a.Val] = true
				}
			}
			if tt == html.StartTagToken && !voidElements[tok.DataAtom] {
				stack = append(stack, tok.Data)
			}
		case html.EndTagToken:
			tok := z.Token()
			if len(stack) == 0 || stack[len(stack)-1] != tok.Data {
				t.Fatalf("</%s> closes nothing open (open: %v)", tok.Data, stack)
			}
			stack = stack[:len(stack)-1]
		}
	}
}

// parse parses a page the way a browser does.
func parse(t *testing.T, page string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// findAll returns the nodes for which match is true, in document order.
func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for c := range n.Descendants() {
		if match(c) {
			out = append(out, c)
		}
	}
	return out
}

func text(n *html.Node) string {
	var b strings.Builder
	for c := range n.Descendants() {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

type pageRow struct{ name, state, cells string }

// statusRows returns the status table's rows in order.
func statusRows(doc *html.Node) []pageRow {
	var rows []pageRow
	for _, tr := range findAll(doc, func(n *html.Node) bool { _, ok := attr(n, "data-workspace"); return n.DataAtom == atom.Tr && ok }) {
		name, _ := attr(tr, "data-workspace")
		state, _ := attr(tr, "data-state")
		rows = append(rows, pageRow{name, state, text(tr)})
	}
	return rows
}

func TestStatusPage(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, openEstate(t), nil)
	resp, body := ts.get(t, "/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP = %q", csp)
	}
	checkWellFormed(t, body)
	rows := statusRows(parse(t, body))
	var names []string
	for _, r := range rows {
		names = append(names, r.name)
	}
	if !slices.Equal(names, wantOrder) {
		t.Fatalf("rows = %v, want %v", names, wantOrder)
	}
	wantCells := map[string][]string{
		"billing":   {"error", "— —", "20 h ago", "10 min ago", "in 10 min", "#12"},
		"network":   {"drifted", "3 1", "in 20 min", "#10"},
		"iam":       {"drifted", "1 0", "30 min ago"},
		"dns":       {"pending", "0 2", "40 min ago", "in 1 h"},
		"analytics": {"clean", "2 days ago", "in 30 h"},
		"storage":   {"clean", "scanning", "3 h ago"},
		"queue":     {"never scanned", "in 5 min"},
	}
	for _, r := range rows {
		for _, want := range wantCells[r.name] {
			if !strings.Contains(r.cells, want) {
				t.Errorf("row %s = %q, want it to contain %q", r.name, r.cells, want)
			}
		}
	}
	for _, want := range []string{`<meta name="viewport"`, `href="/workspaces/network"`, `href="https://github.com/acme/infra/issues/12"`, "1 error", "2 drifted", "1 pending", "2 clean", "1 never scanned"} {
		if !strings.Contains(body, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if strings.Contains(body, "legacy") {
		t.Error("status page shows an unconfigured workspace")
	}
	if strings.Contains(body, "<script") || strings.Contains(body, "src=") {
		t.Error("status page loads a script or an external asset")
	}
	assertNoSecret(t, "status page", body)
}

func TestStatusPageWithoutConfiguredList(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, openEstate(t), func(o *server.Options) { o.Workspaces = nil })
	_, body := ts.get(t, "/")
	var names []string
	for _, r := range statusRows(parse(t, body)) {
		names = append(names, r.name)
	}
	// Without a configured list, the store's workspaces show, legacy
	// included, and never-scanned ones cannot be known.
	want := []string{"billing", "legacy", "network", "iam", "dns", "analytics", "storage"}
	if !slices.Equal(names, want) {
		t.Errorf("rows = %v, want %v", names, want)
	}
}

func TestWorkspacePage(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, openEstate(t), nil)
	tests := []struct {
		ws       string
		want     []string
		wantNot  []string
		wantBars int
	}{
		{
			ws: "network",
			want: []string{
				`id="workspace-state">drifted`, "Changed outside Terraform (3)", "aws_security_group.web",
				"ingress[0].cidr_blocks[0]", "&#34;10.0.0.0/16&#34;", "&#34;0.0.0.0/0&#34;",
				"aws_route53_record.api", "The object was deleted outside Terraform.",
				`module.vpc.aws_subnet.private[&#34;eu-west-1a&#34;]`, "Pending changes: in code, not applied (1)",
				"Terraform would create this object.", "9f2c4e1a7b3d", "@acme/platform", "41.2s",
				`<svg viewBox="0 0 720 220"`, "Drifted resources over the last 14 scans", "scan failed", "#10",
			},
			wantBars: 13,
		},
		{
			ws: "iam",
			want: []string{
				`<td class="before sens">(sensitive value)</td><td class="after sens">(sensitive value)</td>`,
				"deploy_key", `&lt;script&gt;alert(1)&lt;/script&gt;`, `&#34;R&amp;D \&#34;core\&#34;&#34;`,
				"2 changes ignored by rules.",
			},
			wantNot:  []string{"<script>alert(1)"},
			wantBars: 2,
		},
		{
			ws:       "billing",
			want:     []string{`id="workspace-state">error`, "Scan failed", "no valid credential sources found", `provider[&#34;registry.terraform.io/hashicorp/aws&#34;]`},
			wantBars: 2,
		},
		{
			ws: "dns",
			want: []string{"update in place", "replace", "(known after apply)", "300", "3600",
				"Follow-on changes: not in code, terraform apply would make them (1)", "because data.aws_ami.ubuntu read a new value",
				`data-cause="input"`, "ami-0bb", "1 value known only after apply not shown.", "Pending changes: in code, not applied (2)"},
			wantNot: []string{"arn:aws:ec2:i-1"},
		},
		{
			ws:   "storage",
			want: []string{"scanning now", "No drift and nothing pending"},
		},
		{
			ws:      "queue",
			want:    []string{"never scanned", "No scans yet."},
			wantNot: []string{"<svg"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.ws, func(t *testing.T) {
			t.Parallel()
			resp, body := ts.get(t, "/workspaces/"+tt.ws)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			checkWellFormed(t, body)
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(body, w) {
					t.Errorf("page contains %q", w)
				}
			}
			doc := parse(t, body)
			bars := findAll(doc, func(n *html.Node) bool {
				c, _ := attr(n, "class")
				return strings.HasPrefix(c, "bar b-drifted") || strings.HasPrefix(c, "bar b-clean")
			})
			if tt.wantBars > 0 && len(bars) != tt.wantBars {
				t.Errorf("%d chart bars, want %d", len(bars), tt.wantBars)
			}
			assertNoSecret(t, "workspace page", body)
		})
	}
}

// TestNothingLeaks walks every GET route and checks that neither the secret
// planted in reporter bookkeeping, nor the trigger token, nor an unsafe
// issue link comes out, in responses or in logs.
func TestNothingLeaks(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, openEstate(t), nil)
	paths := []string{"/", "/healthz", "/readyz", "/metrics", "/api/v1/workspaces"}
	for _, ws := range configured {
		paths = append(paths, "/workspaces/"+ws, "/api/v1/workspaces/"+ws, "/api/v1/workspaces/"+ws+"/scans")
	}
	for _, p := range paths {
		resp, body := ts.get(t, p)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %d", p, resp.StatusCode)
		}
		assertNoSecret(t, p, body)
	}
	_, body := ts.get(t, "/api/v1/workspaces/iam")
	if !strings.Contains(body, `"(sensitive value)"`) {
		t.Error("iam report lost its sensitive markers")
	}
	assertNoSecret(t, "log", ts.logs.String())
}
