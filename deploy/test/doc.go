// Package deploytest checks what deploys driftd with the tools that read
// it: the Dockerfile (buildkit's parser, its build steps run outside
// Docker), the kustomize overlays (kustomize's Go API), the Helm chart
// (Helm's SDK and linter), every Kubernetes object (decoded strictly with
// the k8s.io/api types), the GitHub Action and workflow (actionlint) and
// the goreleaser config (goreleaser's strict loader). It is its own module
// so that these tools stay out of driftd's go.mod; `make test` runs it.
package deploytest
