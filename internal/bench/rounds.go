package bench

import (
	"encoding/json"
	"fmt"
	"os"
)

// RoundLog writes each fleet round to a JSON-lines file as soon as it
// finishes, so that a run that fails or is stopped later keeps the rounds
// before, and a round with a failed run is there with its error.
type RoundLog struct{ f *os.File }

// CreateRoundLog creates (or empties) the file at path.
func CreateRoundLog(path string) (*RoundLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return &RoundLog{f: f}, nil
}

// Append writes r as one line and syncs it to disk.
func (l *RoundLog) Append(r *FleetResult) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// Close closes the file.
func (l *RoundLog) Close() error { return l.f.Close() }
