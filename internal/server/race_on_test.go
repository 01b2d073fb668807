//go:build race

package server_test

// raceEnabled: the race detector's shadow memory makes RSS meaningless as
// a leak signal, so the soak then judges the Go heap alone.
const raceEnabled = true
