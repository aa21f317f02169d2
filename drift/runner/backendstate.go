package runner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"

	"github.com/driftd/driftd/internal/cachefile"
)

// Terraform's init records the backend it configured in
// TF_DATA_DIR/terraform.tfstate: type, hash and the whole configuration,
// -backend-config values included, which are credentials more often than
// not (a database password, an access key). plan needs that file and
// refuses to run without it ("Backend initialization required"), so a data
// dir kept for reuse needs it too, but not with the credentials in it for
// weeks. Between scans an entry keeps backendSaved instead: the record with
// the values of the workspace's backend_config removed. A scan that reuses
// the entry writes the record back, 0600, from the configuration it was
// given; the record goes when the scan ends (release), or, after a killed
// scan, at the next sweep.

// savedBackend is backendSaved's content.
type savedBackend struct {
	// State is TF_DATA_DIR/terraform.tfstate with the Removed keys of
	// backend.config set to null.
	State json.RawMessage `json:"state"`
	// Removed are backend_config keys whose values were removed.
	Removed []string `json:"removed"`
}

func (d *dataDir) backendState() string { return filepath.Join(d.path(), "terraform.tfstate") }
func (d *dataDir) backendSaved() string { return filepath.Join(d.dir, "backend.json") }

// saveBackend keeps init's backend record for reuse, without the values
// of backend_config. A record whose values cannot be removed and put back
// as they were is an error: the entry is then not kept.
func (d *dataDir) saveBackend() error {
	b, err := os.ReadFile(d.backendState())
	if errors.Is(err, fs.ErrNotExist) {
		// No backend block: nothing recorded.
		return removeIfExists(d.backendSaved())
	}
	if err != nil {
		return err
	}
	if err := os.Chmod(d.backendState(), 0o600); err != nil {
		return err
	}
	saved, err := stripBackend(b, d.backend)
	if err != nil {
		return fmt.Errorf("backend configuration record: %w", err)
	}
	out, err := json.Marshal(saved)
	if err != nil {
		return err
	}
	return cachefile.Write(d.backendSaved(), out)
}

// restoreBackend writes the backend record of the init being reused back
// into its data dir, with the workspace's backend_config.
func (d *dataDir) restoreBackend() error {
	if err := removeIfExists(d.backendState()); err != nil {
		return err
	}
	var saved savedBackend
	found, err := cachefile.Load(d.backendSaved(), &saved)
	if err != nil || !found {
		return err
	}
	b, err := fillBackend(saved, d.backend)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(d.backendState(), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	return errors.Join(err, f.Close())
}

// scrubBackend removes the backend record from the data dir of an entry
// no scan holds: only backendSaved stays at rest.
func scrubBackend(dir string) error {
	return removeIfExists(filepath.Join(dir, "tf", "terraform.tfstate"))
}

// stripBackend returns state (TF_DATA_DIR/terraform.tfstate) without the
// string values that backend_config gave, checking that fillBackend puts
// back exactly what was there.
func stripBackend(state []byte, cfg map[string]string) (savedBackend, error) {
	doc, config, err := backendConfig(state)
	if err != nil {
		return savedBackend{}, err
	}
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	saved := savedBackend{Removed: []string{}}
	for _, k := range keys {
		v, ok := config[k]
		if !ok {
			return savedBackend{}, fmt.Errorf("backend_config key %q is not in it", k)
		}
		if s, isString := v.(string); isString {
			if s != cfg[k] {
				return savedBackend{}, fmt.Errorf("backend_config key %q was recorded with another value", k)
			}
			config[k] = nil
			saved.Removed = append(saved.Removed, k)
		}
		// Other types (a bool given as "true") are no secret and stay.
	}
	if saved.State, err = json.Marshal(doc); err != nil {
		return savedBackend{}, err
	}
	back, err := fillBackend(saved, cfg)
	if err != nil {
		return savedBackend{}, err
	}
	if !sameJSON(back, state) {
		return savedBackend{}, errors.New("the record does not survive removing and restoring backend_config")
	}
	return saved, nil
}

// fillBackend puts the backend_config values back into a stripped record.
func fillBackend(saved savedBackend, cfg map[string]string) ([]byte, error) {
	doc, config, err := backendConfig(saved.State)
	if err != nil {
		return nil, err
	}
	for _, k := range saved.Removed {
		v, ok := cfg[k]
		if !ok {
			return nil, fmt.Errorf("backend_config key %q is gone", k)
		}
		config[k] = v
	}
	return json.MarshalIndent(doc, "", "  ")
}

// backendConfig decodes a backend record and returns it and its
// backend.config object (numbers kept as written).
func backendConfig(state []byte) (doc map[string]any, config map[string]any, err error) {
	if err := decodeNumbers(state, &doc); err != nil {
		return nil, nil, fmt.Errorf("backend record: %w", err)
	}
	backend, _ := doc["backend"].(map[string]any)
	config, _ = backend["config"].(map[string]any)
	if config == nil {
		return nil, nil, errors.New("backend record has no backend.config")
	}
	return doc, config, nil
}

func decodeNumbers(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

func sameJSON(a, b []byte) bool {
	var x, y any
	return decodeNumbers(a, &x) == nil && decodeNumbers(b, &y) == nil && reflect.DeepEqual(x, y)
}
