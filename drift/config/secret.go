package config

import "log/slog"

const redacted = "[redacted]"

// Secret is a credential read from the environment or a file. Every way of
// printing, logging or encoding it yields "[redacted]", so a Config can be
// logged or dumped safely; Reveal is the one way to the value.
type Secret string

// Reveal returns the secret's value. Call it only where the value is sent to
// its destination.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string   { return redacted }
func (s Secret) GoString() string { return redacted }

// LogValue keeps the value out of log/slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalYAML keeps yaml.v3, which ignores MarshalText, from writing the value.
func (s Secret) MarshalYAML() (any, error) { return redacted, nil }
