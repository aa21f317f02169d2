package reporters_test

import (
	"context"
	"testing"

	"github.com/driftd/driftd/drift/store"
	"github.com/driftd/driftd/reporters"
)

// The store keeps reporter bookkeeping in the daemon; it must be a State.
var _ reporters.State = (*store.Store)(nil)

func TestMemStateMissingIsNil(t *testing.T) {
	t.Parallel()
	var s reporters.MemState
	var bm reporters.Bookmark
	found, err := reporters.LoadJSON(context.Background(), &s, "w", "slack", &bm)
	if err != nil || found {
		t.Fatalf("found %v err %v", found, err)
	}
	if err := s.PutState(context.Background(), "w", "slack", []byte(`{"status":"drifted","fingerprint":"a"}`)); err != nil {
		t.Fatal(err)
	}
	if found, err := reporters.LoadJSON(context.Background(), &s, "w", "slack", &bm); !found || err != nil || bm.Fingerprint != "a" {
		t.Fatalf("found %v err %v bm %+v", found, err, bm)
	}
}
