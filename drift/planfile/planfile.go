// Package planfile reads the little driftd needs from a saved Terraform plan
// (`terraform plan -out`) without running terraform: whether the plan holds
// any drift or change at all.
//
// Turning a plan into JSON (`terraform show -json`) costs a terraform start
// and a start of every provider for its schema: about a quarter of a scan's
// CPU. Most scans find nothing, and for those the answer is in the plan
// file's protobuf (internal/plans/planproto/planfile.proto in Terraform's
// source): every action is no-op and no drift was recorded. Reading only
// actions needs no schema, because the values themselves are never decoded.
// Anything this package does not recognise makes it say "not known to be
// clean", and the caller falls back to `terraform show -json`.
package planfile

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// formatVersion is the plan file format this package understands
// (tfplanFormatVersion in Terraform 1.x). Terraform increments it on any
// change an older reader could misread.
const formatVersion = 3

// maxPlanBytes bounds the protobuf read into memory: a plan's protobuf holds
// every resource's values, so a large one is not unusual, but a bad file must
// not take all of memory.
const maxPlanBytes = 512 << 20

// Summary is what a plan file says without decoding any value.
type Summary struct {
	// TerraformVersion is the version of the terraform that wrote the plan.
	TerraformVersion string
	// Clean is true when every resource and output change is a no-op and
	// there is no drift, deferred change or action: a plan with nothing to
	// report. False means "look closer", not "drifted".
	Clean bool
	// Key identifies the plan's content when it is not Clean: equal keys
	// mean equal plans, whose `terraform show -json` outputs, given the
	// same terraform and provider binaries, differ in their timestamp and
	// the order of lists driftd sorts anyway. It is a SHA-256 over every
	// entry's name and bytes, tfplan's top-level fields sorted and without
	// the timestamp, so anything in a later plan that differs, down to a
	// state serial, gives another key. Each entry is hashed on its own and
	// the key hashes names and entry hashes, so that no content can pass
	// for another entry's.
	Key string
}

// ErrUnknownFormat is returned for a plan file this package cannot read: a
// different format version, a missing entry, a malformed message.
var ErrUnknownFormat = errors.New("plan file: unknown format")

// Summarize reads the plan file at path.
func Summarize(path string) (Summary, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return Summary{}, fmt.Errorf("%w: %w", ErrUnknownFormat, err)
	}
	defer zr.Close()
	files := slices.SortedFunc(slices.Values(zr.File), func(a, b *zip.File) int { return strings.Compare(a.Name, b.Name) })
	var plan *zip.File
	for i, f := range files {
		if i > 0 && f.Name == files[i-1].Name {
			return Summary{}, fmt.Errorf("%w: entry %q twice", ErrUnknownFormat, f.Name)
		}
		if f.Name == "tfplan" {
			plan = f
		}
	}
	if plan == nil {
		return Summary{}, fmt.Errorf("%w: no tfplan entry", ErrUnknownFormat)
	}
	if plan.UncompressedSize64 > maxPlanBytes {
		return Summary{}, fmt.Errorf("%w: tfplan is %d bytes", ErrUnknownFormat, plan.UncompressedSize64)
	}
	rc, err := plan.Open()
	if err != nil {
		return Summary{}, fmt.Errorf("%w: %w", ErrUnknownFormat, err)
	}
	b, err := io.ReadAll(io.LimitReader(rc, maxPlanBytes))
	rc.Close()
	if err != nil {
		return Summary{}, fmt.Errorf("%w: tfplan: %w", ErrUnknownFormat, err)
	}
	s, fields, err := summarize(b)
	if err != nil || s.Clean {
		return s, err
	}
	if s.Key, err = contentKey(files, fields); err != nil {
		return Summary{}, fmt.Errorf("%w: %w", ErrUnknownFormat, err)
	}
	return s, nil
}

// Field numbers of planfile.proto that matter here.
const (
	planVersion          = 1
	planResourceChanges  = 3
	planOutputChanges    = 4
	planTerraformVersion = 14
	planResourceDrift    = 18
	planErrored          = 20
	planDeferredChanges  = 27
	planActions          = 30
	planDeferredActions  = 31

	resourceChangeChange = 9 // ResourceInstanceChange.change
	outputChangeChange   = 2 // OutputChange.change
	changeAction         = 1 // Change.action; 0 is NOOP
)

// summarize reads tfplan's bytes b. It also returns b's top-level fields
// but the timestamp, for Key.
func summarize(b []byte) (Summary, [][]byte, error) {
	var s Summary
	version, sawVersion := uint64(0), false
	changed := false
	var fields [][]byte
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, n uint64, raw []byte) error {
		if num != planTimestamp {
			fields = append(fields, raw)
		}
		want := protowire.BytesType
		if num == planVersion || num == planErrored {
			want = protowire.VarintType
		}
		switch num {
		case planVersion, planTerraformVersion, planResourceChanges, planOutputChanges, planErrored:
			if typ != want {
				return fmt.Errorf("field %d: wire type %d, want %d", num, typ, want)
			}
		}
		switch num {
		case planVersion:
			version, sawVersion = n, true
		case planTerraformVersion:
			s.TerraformVersion = string(v)
		case planResourceChanges:
			a, err := nestedAction(v, resourceChangeChange)
			if err != nil {
				return fmt.Errorf("resource_changes: %w", err)
			}
			changed = changed || a != 0
		case planOutputChanges:
			a, err := nestedAction(v, outputChangeChange)
			if err != nil {
				return fmt.Errorf("output_changes: %w", err)
			}
			changed = changed || a != 0
		case planResourceDrift, planDeferredChanges, planActions, planDeferredActions:
			changed = true
		case planErrored:
			changed = changed || n != 0
		}
		return nil
	})
	if err != nil {
		return Summary{}, nil, fmt.Errorf("%w: %w", ErrUnknownFormat, err)
	}
	if !sawVersion || version != formatVersion {
		return Summary{}, nil, fmt.Errorf("%w: format version %d, want %d", ErrUnknownFormat, version, formatVersion)
	}
	s.Clean = !changed
	return s, fields, nil
}

// nestedAction returns msg.<field>.action, 0 (NOOP) when absent, as proto3
// omits default values.
func nestedAction(msg []byte, field protowire.Number) (uint64, error) {
	var action uint64
	err := eachField(msg, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64, _ []byte) error {
		if num != field {
			return nil
		}
		if typ != protowire.BytesType {
			return fmt.Errorf("field %d: wire type %d, want a message", num, typ)
		}
		return eachField(v, func(num protowire.Number, typ protowire.Type, _ []byte, n uint64, _ []byte) error {
			if num == changeAction {
				if typ != protowire.VarintType {
					return fmt.Errorf("action: wire type %d, want an enum", typ)
				}
				action = n
			}
			return nil
		})
	})
	return action, err
}

// eachField calls fn for every field of a protobuf message: v holds the
// bytes of length-delimited fields, n the value of varints, raw the whole
// field as encoded, tag included.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, n uint64, raw []byte) error) error {
	for len(b) > 0 {
		start := b
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return fmt.Errorf("tag: %w", protowire.ParseError(l))
		}
		b = b[l:]
		var (
			v []byte
			n uint64
		)
		switch typ {
		case protowire.VarintType:
			n, l = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			v, l = protowire.ConsumeBytes(b)
		default:
			l = protowire.ConsumeFieldValue(num, typ, b)
		}
		if l < 0 {
			return fmt.Errorf("field %d: %w", num, protowire.ParseError(l))
		}
		b = b[l:]
		if err := fn(num, typ, v, n, start[:len(start)-len(b)]); err != nil {
			return err
		}
	}
	return nil
}

// planTimestamp is Plan.timestamp: when the plan was made, the only part of
// a plan file that differs between two plans of unchanged code, state and
// infrastructure (see Summary.Key).
const planTimestamp = 21

// contentKey is Summary.Key of the plan file whose entries, sorted by name,
// are files; planFields are tfplan's fields but the timestamp. They are
// sorted here: terraform writes repeated fields such as resource_changes in
// map order, which varies from run to run, and driftd's reports do not
// depend on that order.
func contentKey(files []*zip.File, planFields [][]byte) (string, error) {
	slices.SortFunc(planFields, bytes.Compare)
	h := sha256.New()
	io.WriteString(h, "driftd plan key 1\n")
	for _, f := range files {
		eh := sha256.New()
		if f.Name == "tfplan" {
			for _, field := range planFields {
				// Each field's own bytes delimit it (tag, then varint or length).
				eh.Write(field)
			}
		} else if err := copyEntry(eh, f); err != nil {
			return "", fmt.Errorf("%s: %w", f.Name, err)
		}
		fmt.Fprintf(h, "%q %x\n", f.Name, eh.Sum(nil))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func copyEntry(w io.Writer, f *zip.File) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(w, rc)
	return err
}
