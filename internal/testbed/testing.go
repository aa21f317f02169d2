package testbed

import (
	"errors"
	"testing"
)

// New returns an Env under t.TempDir(), skipping the test when no terraform
// binary is on PATH.
func New(t testing.TB) *Env {
	t.Helper()
	e, err := NewEnv(t.Context(), t.TempDir())
	if errors.Is(err, ErrNoTerraform) {
		t.Skip("testbed: skipping, no terraform binary on PATH")
	}
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Workspace creates a workspace from mainTF (see NewWorkspace) and applies
// it, failing the test on error.
func (e *Env) Workspace(t testing.TB, name, mainTF string) *Workspace {
	t.Helper()
	w, err := e.NewWorkspace(name, mainTF)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Apply(t.Context()); err != nil {
		t.Fatal(err)
	}
	return w
}
