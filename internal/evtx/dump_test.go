package evtx

import (
	"fmt"
	"os"
	"testing"
)

// TestDump prints the records of $EVTX_DUMP; it is a debugging aid and
// skips unless the variable is set.
func TestDump(t *testing.T) {
	path := os.Getenv("EVTX_DUMP")
	if path == "" {
		t.Skip("EVTX_DUMP not set")
	}
	err := ReadFile(path, func(r *Record) error {
		fmt.Printf("record %d %s\n", r.ID, r.Time.Format("2006-01-02T15:04:05.000000Z"))
		for _, f := range r.Fields {
			fmt.Printf("  %s = %q\n", f.Name, f.Value)
		}
		return nil
	})
	if err != nil {
		t.Log(err)
	}
}
