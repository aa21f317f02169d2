package planfile

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/driftd/driftd/drift"
)

// maxStateBytes bounds the previous state read: it holds every resource's
// values, like the plan, and a bad file must not take all of memory.
const maxStateBytes = maxPlanBytes

// prevStateEntry is the plan file's copy of the state as the previous run
// left it, before this plan's refresh (Terraform 1.0 and later).
const prevStateEntry = "tfstate-prev"

// DataReads returns, by instance address, what the data sources read in the
// run that wrote the state the plan at path started from: the values their
// dependants were last applied with. drift.Analyze compares them with what
// they read for this plan. Managed resources are skipped unread.
func DataReads(path string) (drift.DataReads, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnknownFormat, err)
	}
	defer zr.Close()
	var entry *zip.File
	for _, f := range zr.File {
		if f.Name == prevStateEntry {
			if entry != nil {
				return nil, fmt.Errorf("%w: entry %q twice", ErrUnknownFormat, f.Name)
			}
			entry = f
		}
	}
	if entry == nil {
		return nil, fmt.Errorf("%w: no %s entry", ErrUnknownFormat, prevStateEntry)
	}
	rc, err := entry.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnknownFormat, err)
	}
	defer rc.Close()
	reads, err := readDataReads(io.LimitReader(rc, maxStateBytes))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnknownFormat, prevStateEntry, err)
	}
	return reads, nil
}

// stateResource is a resource of a version 4 state file, its instances
// left undecoded until its mode is known.
type stateResource struct {
	Module    string          `json:"module"`
	Mode      string          `json:"mode"`
	Type      string          `json:"type"`
	Name      string          `json:"name"`
	Instances json.RawMessage `json:"instances"`
}

type stateInstance struct {
	IndexKey   any            `json:"index_key"`
	Attributes map[string]any `json:"attributes"`
}

// readDataReads reads a version 4 state file's data resources, one
// resource at a time.
func readDataReads(r io.Reader) (drift.DataReads, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	reads := drift.DataReads{}
	version := int64(-1)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch tok {
		case "version":
			var v json.Number
			if err := dec.Decode(&v); err != nil {
				return nil, fmt.Errorf("version: %w", err)
			}
			if version, err = v.Int64(); err != nil || version != 4 {
				return nil, fmt.Errorf("state version %s, want 4", v)
			}
		case "resources":
			if err := expectDelim(dec, '['); err != nil {
				return nil, fmt.Errorf("resources: %w", err)
			}
			for i := 0; dec.More(); i++ {
				var res stateResource
				if err := dec.Decode(&res); err != nil {
					return nil, fmt.Errorf("resources[%d]: %w", i, err)
				}
				if res.Mode != "data" {
					continue
				}
				if err := addInstances(reads, res); err != nil {
					return nil, fmt.Errorf("resources[%d]: %w", i, err)
				}
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("resources: %w", err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, fmt.Errorf("%v: %w", tok, err)
			}
		}
	}
	if version != 4 {
		return nil, errors.New("no state version")
	}
	return reads, nil
}

func addInstances(reads drift.DataReads, res stateResource) error {
	var insts []stateInstance
	d := json.NewDecoder(bytes.NewReader(res.Instances))
	d.UseNumber()
	if err := d.Decode(&insts); err != nil {
		return fmt.Errorf("instances: %w", err)
	}
	addr := "data." + res.Type + "." + res.Name
	if res.Module != "" {
		addr = res.Module + "." + addr
	}
	for _, in := range insts {
		key, err := indexKey(in.IndexKey)
		if err != nil {
			return err
		}
		reads[addr+key] = in.Attributes
	}
	return nil
}

// indexKey is an instance key as Terraform writes it in addresses: [0],
// ["a"], or nothing.
func indexKey(k any) (string, error) {
	switch v := k.(type) {
	case nil:
		return "", nil
	case json.Number:
		if _, err := v.Int64(); err != nil {
			return "", fmt.Errorf("index_key %s: not an integer", v)
		}
		return "[" + v.String() + "]", nil
	case string:
		return "[" + strconv.Quote(v) + "]", nil
	}
	return "", fmt.Errorf("index_key of type %T", k)
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != want {
		return fmt.Errorf("want %q, got %v", want, tok)
	}
	return nil
}
