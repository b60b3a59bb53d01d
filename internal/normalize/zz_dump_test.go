package normalize

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/mamori-soc/mamori/internal/event"
)

func TestZZDump(t *testing.T) {
	f := os.Getenv("DUMP")
	if f == "" {
		t.Skip()
	}
	data, _ := os.ReadFile(f)
	d := NewDecoder()
	var ev event.Event
	err := Lines(bytes.NewReader(data), func(line int, doc []byte) error {
		err := d.JSON(doc, &ev)
		fmt.Printf("--- line %d shape %s err %v time %v\n", line, d.Shape(), err, ev.Time)
		for i := 0; i < ev.Len(); i++ {
			fmt.Printf("  %s = %q\n", ev.Name(i), ev.Value(i))
		}
		return nil
	}, func(line int, err error) { fmt.Printf("ERR line %d: %v\n", line, err) })
	fmt.Println("lines err", err)
}
