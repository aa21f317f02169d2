package server

import (
	"net/http/httptest"
	"slices"
	"testing"
)

// TestWriteJSONList: the list written an item at a time is, byte for byte,
// what writeJSON writes for the whole document.
func TestWriteJSONList(t *testing.T) {
	type item struct {
		Name  string   `json:"name"`
		Tags  []string `json:"tags,omitempty"`
		Count int      `json:"count"`
	}
	for _, items := range [][]item{
		nil,
		{{Name: "a"}},
		{{Name: "a", Tags: []string{"x", "<y>"}, Count: 2}, {Name: "b & \"c\""}, {Name: "d\n", Count: -1}},
	} {
		whole, streamed := httptest.NewRecorder(), httptest.NewRecorder()
		writeJSON(whole, 200, struct {
			Items []item `json:"items"`
		}{items})
		writeJSONList(streamed, "items", slices.Values(items))
		if items == nil {
			// writeJSON writes null for a nil slice; the list writes [].
			want := "{\n  \"items\": []\n}\n"
			if streamed.Body.String() != want {
				t.Errorf("empty list: %q, want %q", streamed.Body.String(), want)
			}
			continue
		}
		if streamed.Body.String() != whole.Body.String() {
			t.Errorf("%d items:\nstreamed %q\nwhole    %q", len(items), streamed.Body.String(), whole.Body.String())
		}
		if streamed.Header().Get("Content-Type") != "application/json" || streamed.Code != 200 {
			t.Errorf("headers %v, code %d", streamed.Header(), streamed.Code)
		}
	}
}
