//go:build race

package server_test

// raceEnabled says the race detector is on: it makes sync.Pool drop items
// at random, so what encoding/json allocates is not what it allocates in
// production.
const raceEnabled = true
