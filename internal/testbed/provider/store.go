package provider

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// storedObject is the on-disk form of a testbed_object, one file per object
// at <root>/<id>.json. Its JSON keys are the Terraform attribute names, so
// that a person (or testbed.Env.SetAttribute) editing the file changes the
// attribute of the same name. Collections are not omitempty: null and empty
// are different values to Terraform and both must survive a round trip.
type storedObject struct {
	ID string `json:"id"`
	// Generation changes when the object is recreated outside Terraform.
	Generation int64             `json:"generation"`
	Name       string            `json:"name"`
	Content    *string           `json:"content"`
	Secret     *string           `json:"secret"`
	Tags       map[string]string `json:"tags"`
	Ports      []int64           `json:"ports"`
	Enabled    *bool             `json:"enabled"`
	Rule       []storedRule      `json:"rule"`
	Settings   *storedSettings   `json:"settings"`
}

type storedRule struct {
	Port       *int64   `json:"port"`
	Protocol   *string  `json:"protocol"`
	CIDRBlocks []string `json:"cidr_blocks"`
}

type storedSettings struct {
	Tier     *string `json:"tier"`
	Password *string `json:"password"`
}

// validID keeps ids usable as file names inside root, and nothing else.
var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ValidID reports whether id can name a testbed object.
func ValidID(id string) bool { return validID.MatchString(id) }

// errNotFound means the object's file does not exist.
var errNotFound = errors.New("object not found")

type store struct {
	root string
}

func (s store) path(id string) (string, error) {
	if !ValidID(id) {
		return "", fmt.Errorf("invalid object id %q: want letters, digits, '.', '_' or '-', not starting with a punctuation mark", id)
	}
	return filepath.Join(s.root, id+".json"), nil
}

func (s store) get(id string) (*storedObject, error) {
	p, err := s.path(id)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read object %q: %w", id, err)
	}
	var o storedObject
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("decode object %q (%s): %w", id, p, err)
	}
	return &o, nil
}

// put writes o atomically, so that a concurrent reader never sees half a file.
func (s store) put(o *storedObject) error {
	p, err := s.path(o.ID)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.root, 0o755); err != nil {
		return fmt.Errorf("create object root: %w", err)
	}
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return fmt.Errorf("encode object %q: %w", o.ID, err)
	}
	tmp, err := os.CreateTemp(s.root, "."+o.ID+".*.tmp")
	if err != nil {
		return fmt.Errorf("write object %q: %w", o.ID, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write object %q: %w", o.ID, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write object %q: %w", o.ID, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("write object %q: %w", o.ID, err)
	}
	return nil
}

func (s store) delete(id string) error {
	p, err := s.path(id)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete object %q: %w", id, err)
	}
	return nil
}
